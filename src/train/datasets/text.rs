//! Text as fixed-length character sequences: first names, dictionary words, or the lines of any file.
//!
//! A network takes examples of one length, so each line becomes `length` classes, padded on the right with the
//! space class (class 0); longer lines are skipped rather than cut, since a cut word is not a word. Names and
//! words share one 27-class alphabet (' ' then a–z) so that a model trained on one can be compared with, or
//! fine-tuned on, the other.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{
    Found, Split, check_room, dataset, read_text, require, side, test_fraction, with_labels,
};
use crate::model::Limits;
use crate::model::limits::within;
use crate::train::dataset::{DataError, Dataset, Layout};

/// The names package's own install command, which the errors suggest.
const NAMES_INSTALL: &str = "pip install names==0.3.0";

/// The census lists of the names package, in the order read, and the class each stands for.
const NAME_FILES: [(&str, &str); 2] =
    [("dist.male.first", "male"), ("dist.female.first", "female")];

/// Where Debian's `wamerican` puts its word list.
const DEFAULT_WORDS: &str = "/usr/share/dict/american-english";

/// The padding character, class 0 of every alphabet.
const PAD: char = ' ';

/// Which characters are classes.
enum Alphabet {
    /// ' ' then a–z: 27 classes whatever the data holds.
    Letters,
    /// ' ' then the characters that occur in the kept lines, sorted.
    Occurring,
}

/// Lines to encode, and what the provenance says about them.
struct Corpus {
    /// The candidate lines, in the source's order.
    lines: Vec<String>,
    /// Lines the source already dropped (not a–z, repeated).
    dropped: usize,
    /// What the lines are and where they came from.
    what: String,
    /// Their licence.
    licence: &'static str,
    /// The class names and, for each line, its class.
    labels: Option<(Vec<String>, Vec<Option<u32>>)>,
}

/// US census first names (1990) from the `names` package: the male and the female list, each name once,
/// labelled `male` or `female` by its list. A name on both lists (about one in eight) is labelled by the list
/// where it is the more frequent, so that "female" asks for the names mostly given to girls.
pub(super) fn names(
    length: usize,
    dir: Option<&Path>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let dir = match dir {
        Some(dir) => dir.to_owned(),
        None => names_dir()?,
    };
    let mut tokens = Vec::new();
    // Per name, its class and its frequency in that class's list: the more frequent list wins.
    let mut class_of: HashMap<String, (u32, f64)> = HashMap::new();
    for (class, (file, _)) in NAME_FILES.iter().enumerate() {
        let path = dir.join(file);
        require(&path, "the `names` package's census list", NAMES_INSTALL)?;
        // Each line is `NAME frequency cumulative-frequency rank`.
        for line in read_text(&path)?.lines() {
            let mut fields = line.split_whitespace();
            let Some(name) = fields.next().map(str::to_lowercase) else {
                continue;
            };
            let frequency = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0.0);
            let entry = class_of
                .entry(name.clone())
                .or_insert((class as u32, frequency));
            if frequency > entry.1 {
                *entry = (class as u32, frequency);
            }
            tokens.push(name);
        }
    }
    let (lines, dropped) = letters_only(tokens);
    let labels = lines
        .iter()
        .map(|name| class_of.get(name).map(|c| c.0))
        .collect();
    let names = NAME_FILES
        .iter()
        .map(|(_, class)| class.to_string())
        .collect();
    sequences(
        Corpus {
            lines,
            dropped,
            what: format!(
                "US census first names from {} (pip package names 0.3.0)",
                dir.display()
            ),
            licence: "MIT (names package); the census lists are public domain",
            labels: Some((names, labels)),
        },
        length,
        &Alphabet::Letters,
        test_fraction(None)?,
        limits,
    )
}

/// The folder of the `names` package, as the Python that has it installed sees it.
fn names_dir() -> Result<PathBuf, DataError> {
    let missing = || DataError::Missing {
        what: "the `names` Python package".to_owned(),
        path: PathBuf::from("python3's import path"),
        install: NAMES_INSTALL.to_owned(),
    };
    let output = Command::new("python3")
        .args([
            "-c",
            "import names, os; print(os.path.dirname(names.__file__))",
        ])
        .output()
        .map_err(|_| missing())?;
    if !output.status.success() {
        return Err(missing());
    }
    let dir = String::from_utf8(output.stdout).map_err(|_| missing())?;
    Ok(PathBuf::from(dir.trim()))
}

/// English words from a spelling dictionary: the entries that are lower-case a–z only, which leaves out proper
/// nouns, possessives and words with accents.
pub(super) fn words(
    length: usize,
    path: Option<&Path>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let path = path.map_or_else(|| PathBuf::from(DEFAULT_WORDS), Path::to_owned);
    require(&path, "the word list", "apt-get install wamerican")?;
    let (lines, dropped) = letters_only(read_text(&path)?.lines().map(str::to_owned));
    sequences(
        Corpus {
            lines,
            dropped,
            what: format!(
                "English words from {} (Debian package wamerican, SCOWL)",
                path.display()
            ),
            licence: "the SCOWL copyright notice (permissive, attribution)",
            labels: None,
        },
        length,
        &Alphabet::Letters,
        test_fraction(None)?,
        limits,
    )
}

/// The lines of any text file, over the characters that occur in them.
pub(super) fn lines(
    path: &Path,
    length: usize,
    fraction: Option<f64>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    require(
        path,
        "the text file",
        "set `path` of [data] to an existing file",
    )?;
    text_lines(
        &format!("lines of {}", path.display()),
        &read_text(path)?,
        length,
        fraction,
        limits,
    )
}

/// The lines of `text` (from `what`) as sequences of `length` characters over the characters that occur in them,
/// as a `text-lines` `[data]` table loads a file's: the loader without the file, for text from elsewhere.
pub fn text_lines(
    what: &str,
    text: &str,
    length: usize,
    fraction: Option<f64>,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let fraction = test_fraction(fraction)?;
    sequences(
        Corpus {
            lines: text.lines().map(str::to_owned).collect(),
            dropped: 0,
            what: what.to_owned(),
            licence: "that of the user's file",
            labels: None,
        },
        length,
        &Alphabet::Occurring,
        fraction,
        limits,
    )
}

/// The candidates made of a–z only, each once, in first-seen order; and how many were dropped.
fn letters_only(candidates: impl IntoIterator<Item = String>) -> (Vec<String>, usize) {
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    let mut dropped = 0;
    for candidate in candidates {
        if !candidate.is_empty()
            && candidate.bytes().all(|b| b.is_ascii_lowercase())
            && seen.insert(candidate.clone())
        {
            kept.push(candidate);
        } else {
            dropped += 1;
        }
    }
    (kept, dropped)
}

/// Encodes the corpus's non-empty lines of at most `length` characters as class sequences padded with ' ', in
/// shuffled order. Empty lines are skipped as well: they would be all padding. A line is measured before it is
/// decoded, so a megabyte-long line costs nothing but its skipping.
fn sequences(
    corpus: Corpus,
    length: usize,
    alphabet: &Alphabet,
    fraction: f64,
    limits: &Limits,
) -> Result<Dataset, DataError> {
    let length = side("length", length, "sequence_length", limits.sequence_length)?;
    let total = corpus.lines.len();
    // Measured before decoding, so that a megabyte-long line is skipped at the cost of reading `length` of it.
    let fits = |line: &String| !line.is_empty() && line.chars().nth(length).is_none();
    let labels = corpus.labels.map(|(names, of_line)| {
        let kept = corpus
            .lines
            .iter()
            .zip(of_line)
            .filter(|(line, _)| fits(line));
        (names, kept.map(|(_, label)| label).collect::<Vec<_>>())
    });
    let kept: Vec<Vec<char>> = corpus
        .lines
        .iter()
        .filter(|line| fits(line))
        .map(|line| line.chars().collect())
        .collect();
    check_room(&corpus.what, kept.len(), length, limits)?;
    let skipped = corpus.dropped + total - kept.len();

    let characters: Vec<char> = match alphabet {
        Alphabet::Letters => std::iter::once(PAD).chain('a'..='z').collect(),
        Alphabet::Occurring => {
            let occurring: BTreeSet<char> = kept
                .iter()
                .flatten()
                .copied()
                .filter(|&c| c != PAD)
                .collect();
            std::iter::once(PAD).chain(occurring).collect()
        }
    };
    within(
        &format!("the characters of {}", corpus.what),
        characters.len() as u64,
        "classes",
        u64::from(limits.classes),
    )?;
    // A map rather than a search of the alphabet: a file's lines can hold thousands of distinct characters.
    let class: HashMap<char, u32> = characters.iter().copied().zip(0..).collect();
    let mut examples = Vec::with_capacity(kept.len() * length);
    for chars in &kept {
        for position in 0..length {
            let c = chars.get(position).copied().unwrap_or(PAD);
            // Every kept character is in the alphabet: Letters' corpora are a–z only, Occurring's is built from them.
            examples.push(class.get(&c).copied().unwrap_or(0));
        }
    }

    let split = Split::Shuffled(fraction);
    let data = dataset(
        &corpus.what,
        Layout {
            height: 1,
            width: length,
            channels: 1,
        },
        Found::Classes {
            examples,
            legend: characters.iter().map(char::to_string).collect(),
        },
        split,
        || {
            format!(
                "{total} candidate line(s) and {} dropped: none non-empty with at most {length} characters",
                corpus.dropped
            )
        },
        |count| {
            format!(
                "{}: {count} kept, {skipped} skipped (longer than {length} characters, empty{}); licence: {}",
                corpus.what,
                if corpus.dropped > 0 {
                    ", not a–z or repeated"
                } else {
                    ""
                },
                corpus.licence
            )
        },
    )?;
    Ok(match labels {
        Some((names, of_example)) => with_labels(data, names, of_example, split),
        None => data,
    })
}
