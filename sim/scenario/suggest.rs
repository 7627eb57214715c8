//! "Did you mean …?": the nearest valid word by edit distance.

/// The candidate nearest to `word` (edit distance, ignoring case), if it is close
/// enough to be a plausible misspelling: at most a third of the word's length, and at least 1.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `nearest` as a hint line: "did you mean `x`?".
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    nearest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Optimal-string-alignment distance over characters: insertions, deletions,
/// substitutions and swaps of two neighbours (`tpc` → `tcp`) each cost 1.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("docker-hots", "docker-host"), 1);
        assert_eq!(distance("tpc", "tcp"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_picks_the_closest_plausible_word() {
        let hosts = ["docker-host", "client", "docker-host-2"];
        assert_eq!(nearest("docker-hots", hosts), Some("docker-host"));
        assert_eq!(nearest("Client", hosts), Some("client"));
        assert_eq!(nearest("zzz", hosts), None);
        assert_eq!(did_you_mean("nmae", ["name", "ip"]).as_deref(), Some("did you mean `name`?"));
    }
}
