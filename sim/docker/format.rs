//! Small formatters the CLI output depends on: Go's `text/tabwriter` as docker/cli 20.10
//! configures it (min width 10, padding 3), `units.HumanDuration`, `units.BytesSize`, and
//! RFC 3339 timestamps.

use crate::engine::SimTime;

/// Wall-clock time of simulated time zero: 2021-07-08T10:00:00Z, a day Engine 20.10.7 was
/// current. Timestamps in inspect output are this plus the simulated time.
pub const EPOCH_UNIX_SECS: u64 = 1_625_738_400;

/// Aligns tab-separated rows as `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` does: every
/// column but the last is padded to its widest cell plus 3, and at least 10.
pub fn table(rows: &[Vec<String>]) -> String {
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncols.saturating_sub(1))
        .map(|c| {
            let w = rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max();
            (w.unwrap_or(0) + 3).max(10)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// `units.HumanDuration` (docker/go-units).
pub fn human_duration(secs: u64) -> String {
    let minutes = secs / 60;
    let hours = (secs as f64 / 3600.0).round() as u64;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction dropped.
pub fn rfc3339_nano(t: SimTime) -> String {
    let ns = t.as_nanos();
    let secs = EPOCH_UNIX_SECS + ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let mut s =
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if frac != 0 {
        s += format!(".{frac:09}").trim_end_matches('0');
    }
    s + "Z"
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `units.BytesSize`: powers of 1024, `%.4g` (four significant digits, no trailing zeros).
pub fn bytes_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    let int_digits = if size < 1.0 { 1 } else { size.log10().floor() as usize + 1 };
    let s = format!("{size:.*}", 4usize.saturating_sub(int_digits));
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    format!("{s}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn tabwriter_matches_docker_network_ls() {
        let rows = vec![
            vec!["NETWORK ID".into(), "NAME".into(), "DRIVER".into(), "SCOPE".into()],
            vec!["617215cfa2bf".into(), "docker_gwbridge".into(), "bridge".into(), "local".into()],
        ];
        assert_eq!(
            table(&rows),
            "NETWORK ID     NAME              DRIVER    SCOPE\n617215cfa2bf   docker_gwbridge   bridge    local\n"
        );
    }

    #[test]
    fn durations_and_timestamps() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(75), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        let t = SimTime::ZERO + SimDuration::from_nanos(13_811_862_036);
        assert_eq!(rfc3339_nano(t), "2021-07-08T10:00:13.811862036Z");
        assert_eq!(
            rfc3339_nano(SimTime::ZERO + SimDuration::from_millis(500)),
            "2021-07-08T10:00:00.5Z"
        );
    }
}
