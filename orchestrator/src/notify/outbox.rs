//! The outbox: each notification is a `notification_deliveries` row before it is sent, so a
//! receiver that is down is retried (with doubling pauses) by whichever process is up, two
//! processes never send the same row (a row is claimed with a conditional update), and the UI
//! shows what went out and what did not.

use std::time::Duration;

use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::Notifier;
use super::channel::{self, Channel};
use super::message::Notice;
use super::send::{self, SendError};
use crate::db::entities::notification_delivery as delivery;

/// How long a process may hold a claimed row before another may take it over.
const CLAIM: Duration = Duration::from_secs(120);

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// One delivery, for lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The event.
    pub event: String,
    /// The app it is about.
    pub app_id: Option<i64>,
    /// The run it is about.
    pub run_id: Option<i64>,
    /// pending | sent | failed.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was made (ms).
    pub created_at: i64,
    /// When it went out (ms).
    pub sent_at: Option<i64>,
}

/// Why a test notification did not go out.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The channel does not exist.
    #[error("there is no such channel")]
    NoChannel,
    /// The receiver refused it, or could not be reached: its answer.
    #[error("{0}")]
    NotSent(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl From<delivery::Model> for Delivery {
    fn from(r: delivery::Model) -> Self {
        Delivery {
            id: r.id,
            channel_id: r.channel_id,
            event: r.event,
            app_id: r.app_id,
            run_id: r.run_id,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

/// The newest deliveries, at most `limit`.
pub async fn recent(db: &DatabaseConnection, limit: u64) -> Result<Vec<Delivery>, sea_orm::DbErr> {
    let rows = delivery::Entity::find().order_by_desc(delivery::Column::Id).limit(limit).all(db).await?;
    Ok(rows.into_iter().map(Delivery::from).collect())
}

/// How many deliveries are waiting, and how many were given up, for stats and metrics.
pub async fn counts(db: &DatabaseConnection) -> Result<(u64, u64), sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let pending = delivery::Entity::find().filter(delivery::Column::Status.eq("pending")).count(db).await?;
    let failed = delivery::Entity::find().filter(delivery::Column::Status.eq("failed")).count(db).await?;
    Ok((pending, failed))
}

impl Notifier {
    /// Queues `notice` for `channel`.
    pub(super) async fn enqueue(&self, channel: &Channel, notice: &Notice) -> Result<i64, sea_orm::DbErr> {
        let row = self.insert(channel, notice, None).await?;
        self.kick.notify_one();
        Ok(row.id)
    }

    /// Stores `notice` for `channel` as a pending delivery; `claimed_until` set means this process
    /// holds it from the start (no outbox loop may take it before then).
    async fn insert(
        &self,
        channel: &Channel,
        notice: &Notice,
        claimed_until: Option<i64>,
    ) -> Result<delivery::Model, sea_orm::DbErr> {
        let now = now_ms();
        delivery::ActiveModel {
            channel_id: Set(channel.id),
            event: Set(notice.event.as_str().into()),
            app_id: Set(notice.app.as_ref().map(|a| a.id)),
            run_id: Set(notice.run.as_ref().map(|r| r.id)),
            payload: Set(notice.json()),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            claimed_until: Set(claimed_until),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await
    }

    /// Sends every delivery that is due, once each; returns how many were attempted.
    ///
    /// A channel hears its notices in the order they were queued: its rows go one after the
    /// other, oldest first, and a row that is not due (waiting to be retried), held by another
    /// process or not sent now holds back the channel's later rows. Channels go side by side.
    pub async fn deliver_due(&self) -> usize {
        let pending = delivery::Entity::find()
            .filter(delivery::Column::Status.eq("pending"))
            .order_by_asc(delivery::Column::Id)
            .limit(500)
            .all(&self.db)
            .await;
        let pending = match pending {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the notification outbox");
                return 0;
            }
        };
        let mut by_channel: Vec<(i64, Vec<delivery::Model>)> = Vec::new();
        for row in pending {
            match by_channel.iter_mut().find(|(id, _)| *id == row.channel_id) {
                Some((_, rows)) => rows.push(row),
                None => by_channel.push((row.channel_id, vec![row])),
            }
        }
        let attempted = std::sync::atomic::AtomicUsize::new(0);
        futures::stream::iter(by_channel)
            .for_each_concurrent(8, |(_, rows)| {
                let attempted = &attempted;
                async move {
                    for row in rows {
                        let now = now_ms();
                        if row.next_attempt_at > now || row.claimed_until.is_some_and(|until| until >= now) {
                            break;
                        }
                        attempted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if !matches!(self.attempt(row, true).await, Some(Ok(()))) {
                            break;
                        }
                    }
                }
            })
            .await;
        attempted.into_inner()
    }

    /// Claims `row` and makes one attempt (the last one unless `retry`); a row another process
    /// claimed first, or already attempted since it was read, is left alone (`None`).
    async fn attempt(&self, row: delivery::Model, retry: bool) -> Option<Result<(), SendError>> {
        let now = now_ms();
        // The claim holds only for the row as it was read: still pending, due, unclaimed and with
        // the same number of attempts. A process that read it before another attempted it (and
        // put it back to pending for a later retry) does not send it a second time.
        let claimed = delivery::Entity::update_many()
            .col_expr(delivery::Column::ClaimedUntil, Expr::value(now + CLAIM.as_millis() as i64))
            .filter(delivery::Column::Id.eq(row.id))
            .filter(delivery::Column::Status.eq("pending"))
            .filter(delivery::Column::Attempts.eq(row.attempts))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(delivery::Column::ClaimedUntil.is_null())
                    .add(delivery::Column::ClaimedUntil.lt(now)),
            )
            .exec(&self.db)
            .await;
        if !matches!(claimed, Ok(r) if r.rows_affected == 1) {
            return None;
        }
        Some(self.deliver_claimed(row, retry).await)
    }

    /// Sends a row this process holds, records the outcome, and returns it.
    async fn deliver_claimed(&self, row: delivery::Model, retry: bool) -> Result<(), SendError> {
        let result = self.send_row(&row).await;
        let attempts = row.attempts + 1;
        let mut update: delivery::ActiveModel = row.clone().into();
        update.attempts = Set(attempts);
        update.claimed_until = Set(None);
        match &result {
            Ok(()) => {
                update.status = Set("sent".into());
                update.sent_at = Set(Some(now_ms()));
                update.last_error = Set(None);
            }
            Err(e) => {
                let give_up = !retry || !e.retryable || attempts >= self.settings.max_attempts;
                let pause = self.settings.retry_delay.saturating_mul(1 << (attempts - 1).clamp(0, 16));
                let pause = pause.min(Duration::from_secs(3600));
                update.status = Set(if give_up { "failed" } else { "pending" }.into());
                update.last_error = Set(Some(e.message.clone()));
                update.next_attempt_at = Set(now_ms() + pause.as_millis() as i64);
                tracing::warn!(
                    delivery = row.id,
                    channel = row.channel_id,
                    event = %row.event,
                    attempts,
                    error = %e.message,
                    "{}",
                    if give_up { "a notification could not be sent; given up" } else { "a notification could not be sent; retrying later" }
                );
            }
        }
        if let Err(e) = update.update(&self.db).await {
            tracing::error!(delivery = row.id, error = %e, "could not record a notification attempt");
        }
        result
    }

    async fn send_row(&self, row: &delivery::Model) -> Result<(), SendError> {
        let fatal = |message: String| SendError { message, retryable: false };
        let channel = channel::get(&self.db, row.channel_id)
            .await
            .map_err(|e| SendError { message: format!("database error: {e}"), retryable: true })?
            .ok_or_else(|| fatal("the channel was deleted".into()))?;
        let secret = channel.secret(&self.secrets).map_err(|e| fatal(e.to_string()))?;
        let notice: Notice =
            serde_json::from_str(&row.payload).map_err(|e| fatal(format!("unreadable notification: {e}")))?;
        send::send(&self.http, &channel, &secret, &notice, row.id, self.settings.timeout).await
    }

    /// "Send a test notification": sends a test notice through the channel at once, with the
    /// same code as real ones, and answers what happened. The delivery is stored already held
    /// by this call, so the outbox loop never races it (the answer is this attempt's own
    /// outcome, not a guess read back while another process sends it); it is not retried.
    pub async fn send_test(&self, channel_id: i64) -> Result<(), TestError> {
        let channel = channel::get(&self.db, channel_id).await?.ok_or(TestError::NoChannel)?;
        let event = if channel.kind == channel::Kind::Ping {
            super::message::Event::Success
        } else {
            super::message::Event::Test
        };
        let t = crate::catalogue::T { lang: channel.policy.language };
        let mut notice = Notice::new(
            event,
            "channel.test",
            t.fill("notify.test_notice", &[("channel", &format!("{:?}", channel.name))]),
        );
        notice.language = channel.policy.language.code().to_owned();
        notice.reason = Some(t.get("notify.test_notice.reason").to_owned());
        notice.link = self.link("/notifications");
        if channel.kind == channel::Kind::Ping {
            let secret = channel.secret(&self.secrets).map_err(|e| TestError::NotSent(e.to_string()))?;
            if secret.success_url.is_none() {
                return Err(TestError::NotSent(
                    "nothing was sent: a test pings only the success URL (start and fail would change the check's state), and this channel has none"
                        .into(),
                ));
            }
        }
        let row = self.insert(&channel, &notice, Some(now_ms() + CLAIM.as_millis() as i64)).await?;
        // The operator is waiting for the answer: one attempt, no retries.
        self.deliver_claimed(row, false).await.map_err(|e| TestError::NotSent(e.message))
    }

    /// Sends due deliveries until `stop`: right after something is queued, and every second for
    /// retries that fall due.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            self.deliver_due().await;
            tokio::select! {
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}
