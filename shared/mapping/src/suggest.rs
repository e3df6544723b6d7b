//! "Did you mean" hints for misspelt names (transforms, mapping files).

/// ` (did you mean "c"?)` for the candidate `c` closest to `name` when it
/// is within two edits (ties go to the alphabetically first), else empty.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .min();
    match best {
        Some((d, c)) if d <= 2 => hint(c),
        _ => String::new(),
    }
}

/// ` (did you mean "c"?)`.
pub(crate) fn hint(c: &str) -> String {
    format!(" (did you mean \"{c}\"?)")
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, edit_distance};

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("lowercse", "lowercase"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("trim", "trim"), 0);
    }

    #[test]
    fn did_you_mean_picks_the_closest_within_two_edits() {
        let files = ["organizations.yaml", "people.yaml"];
        let cases = [
            ("peple.yaml", " (did you mean \"people.yaml\"?)"),
            ("People.yaml", " (did you mean \"people.yaml\"?)"),
            ("people.yml", " (did you mean \"people.yaml\"?)"),
            (
                "organisations.yaml",
                " (did you mean \"organizations.yaml\"?)",
            ),
            ("contacts.yaml", ""),
            ("", ""),
        ];
        for (name, want) in cases {
            assert_eq!(did_you_mean(name, files), want, "{name}");
        }
        assert_eq!(did_you_mean("x", []), "");
        // Ties go to the alphabetically first candidate.
        assert_eq!(did_you_mean("ab", ["ac", "aa"]), " (did you mean \"aa\"?)");
    }
}
