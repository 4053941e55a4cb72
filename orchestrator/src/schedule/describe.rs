//! A cron expression in words: the common shapes operators pick (every N minutes, hourly,
//! daily, weekly, monthly) are recognized; anything else is shown as written.

/// The shape of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// `*/N * * * *` (N = 1: every minute).
    EveryMinutes(u32),
    /// `M * * * *`.
    Hourly {
        /// Minute past the hour.
        minute: u32,
    },
    /// `M */N * * *`.
    EveryHours {
        /// Hours between runs.
        hours: u32,
        /// Minute past the hour.
        minute: u32,
    },
    /// `M H * * *`.
    Daily {
        /// Hour.
        hour: u32,
        /// Minute.
        minute: u32,
    },
    /// `M H * * D[,D...]` (0 = Sunday).
    Weekly {
        /// Days of the week, 0 = Sunday.
        days: Vec<u32>,
        /// Hour.
        hour: u32,
        /// Minute.
        minute: u32,
    },
    /// `M H D * *`.
    Monthly {
        /// Day of the month.
        day: u32,
        /// Hour.
        hour: u32,
        /// Minute.
        minute: u32,
    },
    /// Anything else.
    Custom,
}

/// The cadence of a five-field expression (or a macro such as `@daily`).
pub fn cadence(expression: &str) -> Cadence {
    let expanded = match expression.trim().to_ascii_lowercase().as_str() {
        "@daily" | "@midnight" => "0 0 * * *".to_owned(),
        "@hourly" => "0 * * * *".to_owned(),
        "@weekly" => "0 0 * * 0".to_owned(),
        "@monthly" => "0 0 1 * *".to_owned(),
        other => other.to_owned(),
    };
    let f: Vec<&str> = expanded.split_whitespace().collect();
    if f.len() != 5 || f[3] != "*" {
        return Cadence::Custom;
    }
    let num = |s: &str, max: u32| s.parse::<u32>().ok().filter(|n| *n <= max);
    let step = |s: &str| s.strip_prefix("*/").and_then(|n| n.parse::<u32>().ok()).filter(|n| *n > 0);
    match (f[0], f[1], f[2], f[4]) {
        ("*", "*", "*", "*") => Cadence::EveryMinutes(1),
        (m, "*", "*", "*") if step(m).is_some() => Cadence::EveryMinutes(step(m).unwrap_or(1)),
        (m, "*", "*", "*") if num(m, 59).is_some() => Cadence::Hourly { minute: num(m, 59).unwrap_or(0) },
        (m, h, "*", "*") if num(m, 59).is_some() && step(h).is_some() => {
            Cadence::EveryHours { hours: step(h).unwrap_or(1), minute: num(m, 59).unwrap_or(0) }
        }
        (m, h, "*", "*") => match (num(m, 59), num(h, 23)) {
            (Some(minute), Some(hour)) => Cadence::Daily { hour, minute },
            _ => Cadence::Custom,
        },
        (m, h, "*", dow) => {
            let days: Option<Vec<u32>> = dow.split(',').map(|d| num(d, 7).map(|d| d % 7)).collect();
            match (num(m, 59), num(h, 23), days) {
                (Some(minute), Some(hour), Some(days)) => Cadence::Weekly { days, hour, minute },
                _ => Cadence::Custom,
            }
        }
        (m, h, dom, "*") => match (num(m, 59), num(h, 23), num(dom, 31).filter(|d| *d > 0)) {
            (Some(minute), Some(hour), Some(day)) => Cadence::Monthly { day, hour, minute },
            _ => Cadence::Custom,
        },
        _ => Cadence::Custom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_schedules_are_recognized() {
        assert_eq!(cadence("*/15 * * * *"), Cadence::EveryMinutes(15));
        assert_eq!(cadence("* * * * *"), Cadence::EveryMinutes(1));
        assert_eq!(cadence("5 * * * *"), Cadence::Hourly { minute: 5 });
        assert_eq!(cadence("0 */6 * * *"), Cadence::EveryHours { hours: 6, minute: 0 });
        assert_eq!(cadence("0 3 * * *"), Cadence::Daily { hour: 3, minute: 0 });
        assert_eq!(cadence("@daily"), Cadence::Daily { hour: 0, minute: 0 });
        assert_eq!(cadence("30 2 * * 1,5"), Cadence::Weekly { days: vec![1, 5], hour: 2, minute: 30 });
        assert_eq!(cadence("0 4 * * 7"), Cadence::Weekly { days: vec![0], hour: 4, minute: 0 });
        assert_eq!(cadence("0 1 15 * *"), Cadence::Monthly { day: 15, hour: 1, minute: 0 });
        assert_eq!(cadence("0 1 * 6 *"), Cadence::Custom);
        assert_eq!(cadence("0 1-5 * * *"), Cadence::Custom);
        assert_eq!(cadence("0 0 3 * * *"), Cadence::Custom);
    }
}
