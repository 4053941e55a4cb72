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
        let now = now_ms();
        let row = delivery::ActiveModel {
            channel_id: Set(channel.id),
            event: Set(notice.event.as_str().into()),
            app_id: Set(notice.app.as_ref().map(|a| a.id)),
            run_id: Set(notice.run.as_ref().map(|r| r.id)),
            payload: Set(notice.json()),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        self.kick.notify_one();
        Ok(row.id)
    }

    /// Sends every delivery that is due, once each; returns how many were attempted.
    pub async fn deliver_due(&self) -> usize {
        let now = now_ms();
        let due = delivery::Entity::find()
            .filter(delivery::Column::Status.eq("pending"))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(delivery::Column::ClaimedUntil.is_null())
                    .add(delivery::Column::ClaimedUntil.lt(now)),
            )
            .order_by_asc(delivery::Column::Id)
            .limit(50)
            .all(&self.db)
            .await;
        let due = match due {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the notification outbox");
                return 0;
            }
        };
        let count = due.len();
        futures::stream::iter(due).for_each_concurrent(8, |row| self.attempt(row, true)).await;
        count
    }

    /// Claims `row` and makes one attempt (the last one unless `retry`); a row another process
    /// claimed first is left alone.
    async fn attempt(&self, row: delivery::Model, retry: bool) {
        let now = now_ms();
        let claimed = delivery::Entity::update_many()
            .col_expr(delivery::Column::ClaimedUntil, Expr::value(now + CLAIM.as_millis() as i64))
            .filter(delivery::Column::Id.eq(row.id))
            .filter(delivery::Column::Status.eq("pending"))
            .filter(
                Condition::any()
                    .add(delivery::Column::ClaimedUntil.is_null())
                    .add(delivery::Column::ClaimedUntil.lt(now)),
            )
            .exec(&self.db)
            .await;
        if !matches!(claimed, Ok(r) if r.rows_affected == 1) {
            return;
        }
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

    /// "Send a test notification": queues a test notice for the channel and sends it at once;
    /// the error says why it did not go out.
    pub async fn send_test(&self, channel_id: i64) -> Result<(), TestError> {
        let channel = channel::get(&self.db, channel_id).await?.ok_or(TestError::NoChannel)?;
        let event = if channel.kind == channel::Kind::Ping {
            super::message::Event::Success
        } else {
            super::message::Event::Test
        };
        let mut notice = Notice::new(
            event,
            format!("Test notification from the backup orchestrator for channel {:?}", channel.name),
        );
        notice.reason = Some("an operator pressed \"Send a test notification\"; nothing is wrong".into());
        notice.link = self.link("/notifications");
        let id = self.enqueue(&channel, &notice).await?;
        let vanished = || TestError::NotSent("the test notification vanished".into());
        let row = delivery::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(vanished)?;
        // The operator is waiting for the answer: one attempt, no retries.
        self.attempt(row, false).await;
        match delivery::Entity::find_by_id(id).one(&self.db).await? {
            Some(r) if r.status == "sent" => Ok(()),
            Some(r) => Err(TestError::NotSent(r.last_error.unwrap_or_else(|| "it was not sent".into()))),
            None => Err(vanished()),
        }
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
