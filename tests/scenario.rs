//! The scenario helper: what differs between the kinds of value (contact IDs, emails, IP
//! addresses), so that a behaviour of the pipeline is tested once and run for each kind.
//!
//! A [`Kind`] knows its `--type`, how to make N distinct values (in normal form) and an
//! input file that spells them as people do (`USER1@MAIL1.EXAMPLE.ORG`,
//! `2001:0DB8:0000:…:0001`), how to read them back from ledger lines and from the
//! imitation's account (`/_mock/records`). A [`Scenario`] is one test's work directory,
//! its values and input, and the commands run on them. [`for_kinds!`] makes one `#[test]`
//! per kind of a `fn(Kind)`.
//!
//! Values are strings everywhere here (a contact ID in decimal), so one assertion serves
//! every kind.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::util::*;

/// One `#[test]` per kind named, each calling `fn NAME(kind: Kind)`:
/// `for_kinds!(a_429_episode: contact, email);` makes `a_429_episode::contact` and
/// `a_429_episode::email`.
macro_rules! for_kinds {
    ($name:ident: $($kind:ident),+ $(,)?) => {
        mod $name {
            $(
                #[test]
                fn $kind() {
                    super::$name($crate::scenario::Kind::named(stringify!($kind)));
                }
            )+
        }
    };
}

/// What the values of a run are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Contact,
    Email,
    Ip,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Contact, Kind::Email, Kind::Ip];

    /// `contact`, `email` or `ip`: the kind of `name`.
    pub fn named(name: &str) -> Kind {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .unwrap_or_else(|| panic!("no kind {name}"))
    }

    /// The `--type` value, and the ledger's `type` (absent for contacts).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Email => "email",
            Kind::Ip => "ip",
        }
    }

    /// `--type NAME`.
    pub fn type_args(self) -> [&'static str; 2] {
        ["--type", self.name()]
    }

    /// The CSV column `block` reads by default, and `report --failed-ids` writes.
    pub fn column(self) -> &'static str {
        match self {
            Kind::Contact => "contact_id",
            Kind::Email => "email",
            Kind::Ip => "ip",
        }
    }

    /// The plural the summaries use for values of this kind.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Contact => "IDs",
            Kind::Email => "emails",
            Kind::Ip => "IP addresses",
        }
    }

    /// Value number `i` (from 1) in its normal form; distinct for distinct `i`. IPs
    /// alternate between v6 (odd `i`) and v4.
    pub fn value(self, i: u64) -> String {
        match self {
            Kind::Contact => (500_000 + i * 11).to_string(),
            Kind::Email => format!("user{i}@mail{}.example.org", i % 5),
            Kind::Ip if i % 2 == 1 => {
                let low = u16::try_from(i & 0xffff).expect("16 bits");
                let high = u16::try_from(i >> 16).expect("i < 2^32");
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, high, low)).to_string()
            }
            Kind::Ip => {
                let n = u32::try_from(i).expect("i < 2^24");
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)).to_string()
            }
        }
    }

    /// Values `first..=last`.
    pub fn values(self, first: u64, last: u64) -> Vec<String> {
        (first..=last).map(|i| self.value(i)).collect()
    }

    /// How an input spells `value`: not its normal form where the kind has one (an
    /// email in capitals, an IPv6 address written out in full, in capitals).
    pub fn spelled(self, value: &str) -> String {
        match self {
            Kind::Contact => value.to_owned(),
            Kind::Email => value.to_uppercase(),
            Kind::Ip => match value.parse::<IpAddr>().expect("an IP address") {
                IpAddr::V6(v6) => v6
                    .segments()
                    .iter()
                    .map(|segment| format!("{segment:04X}"))
                    .collect::<Vec<_>>()
                    .join(":"),
                IpAddr::V4(v4) => v4.to_string(),
            },
        }
    }

    /// A CSV input: the kind's column and a second one, one row per value, each spelled
    /// as [`Kind::spelled`] does. The rows are on lines 2, 3, ...
    pub fn csv(self, values: &[String]) -> String {
        let mut out = format!("{},note\n", self.column());
        for (row, value) in values.iter().enumerate() {
            out += &format!("{},row {}\n", self.spelled(value), row + 1);
        }
        out
    }

    /// A row no reader of this kind accepts, and a word of the reason it gives.
    pub fn bad_row(self) -> (&'static str, &'static str) {
        match self {
            Kind::Contact => ("not-a-number", "not a whole number"),
            Kind::Email => ("not-an-email", "not an email address"),
            Kind::Ip => ("999.1.1.1", "not an IPv4 or IPv6 address"),
        }
    }

    /// `value` as a ledger line or a request names it: a number for a contact, else a
    /// string.
    pub fn json(self, value: &str) -> Value {
        match self {
            Kind::Contact => json!(value.parse::<u64>().expect("a contact ID")),
            Kind::Email | Kind::Ip => json!(value),
        }
    }

    /// Whether a ledger line concerns values of this kind (contact lines have no `type`).
    pub fn names(self, line: &Value) -> bool {
        match line.get("type").and_then(Value::as_str) {
            None => self == Kind::Contact,
            Some(name) => name == self.name(),
        }
    }

    /// A ledger line's values (`ids`), as strings; empty if it is of another kind.
    pub fn line_values(self, line: &Value) -> Vec<String> {
        if !self.names(line) {
            return Vec::new();
        }
        line["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| self.text(id))
            .collect()
    }

    /// A JSON value of this kind as a string (a contact ID in decimal).
    pub fn text(self, value: &Value) -> String {
        match (self, value) {
            (Kind::Contact, Value::Number(n)) => n.as_u64().expect("a contact ID").to_string(),
            (Kind::Email | Kind::Ip, Value::String(s)) => s.clone(),
            _ => panic!("{value} is not a {} value", self.name()),
        }
    }

    /// The values of the lines of `status` of this kind.
    pub fn values_with_status(self, lines: &[Value], status: &str) -> BTreeSet<String> {
        lines
            .iter()
            .filter(|line| line["status"] == status)
            .flat_map(|line| self.line_values(line))
            .collect()
    }

    /// The latest status of every value of this kind (later lines win).
    pub fn latest(self, lines: &[Value]) -> BTreeMap<String, String> {
        let mut latest = BTreeMap::new();
        for line in lines {
            let status = line["status"].as_str().unwrap_or_default();
            for value in self.line_values(line) {
                latest.insert(value, status.to_owned());
            }
        }
        latest
    }

    /// A report's (`--json`) latest-state counts of this kind: `now.NAME`.
    pub fn counts(self, report: &Value) -> &Value {
        &report["now"][self.name()]
    }

    /// The imitation's records of this kind (live and expired, as it lists them), each
    /// with its values as strings: record id → values.
    pub fn records(self, mock: &Mock) -> BTreeMap<u64, Vec<String>> {
        let (status, body) = mock.get_json(&format!("/_mock/records?type={}", self.name()));
        assert_eq!(status, 200, "{body}");
        body["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|record| {
                let id = record["id"].as_u64().expect("record id");
                let values = record["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|v| self.text(v))
                    .collect();
                (id, values)
            })
            .collect()
    }

    /// What the account holds: each value of this kind → the ids of the records that
    /// hold it.
    pub fn at_account(self, mock: &Mock) -> BTreeMap<String, Vec<u64>> {
        let mut held: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (id, values) in self.records(mock) {
            for value in values {
                held.entry(value).or_default().push(id);
            }
        }
        held
    }
}

/// Values the imitation accepted in blocks it answered 200, repeats included (every kind).
pub fn received(mock: &Mock) -> u64 {
    mock.stats()["ids_blocked"].as_u64().expect("ids_blocked")
}

/// A `/_mock/stats` counter.
pub fn stat(mock: &Mock, key: &str) -> u64 {
    mock.stats()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats has no {key}"))
}

/// Requests to the block list's list route (`GET /api/v1/crm/block-visitor`).
pub fn list_requests(mock: &Mock) -> u64 {
    stat(mock, "list_requests")
}

pub fn set(values: &[String]) -> BTreeSet<String> {
    values.iter().cloned().collect()
}

pub fn u(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

/// One test's values of one kind, its work directory and input (`in.csv`), and the
/// commands run on them against an imitation.
pub struct Scenario {
    pub kind: Kind,
    pub work: Work,
    /// Normal forms, in input order.
    pub values: Vec<String>,
    pub input: PathBuf,
}

impl Scenario {
    /// Values 1 to `n` of `kind`, written to `in.csv` as people spell them.
    pub fn new(kind: Kind, n: u64) -> Scenario {
        let work = Work::new();
        let values = kind.values(1, n);
        let input = work.write("in.csv", kind.csv(&values));
        Scenario {
            kind,
            work,
            values,
            input,
        }
    }

    /// Writes `values` (spelled) to `name` in the work directory.
    pub fn write(&self, name: &str, values: &[String]) -> PathBuf {
        self.work.write(name, self.kind.csv(values))
    }

    pub fn all(&self) -> BTreeSet<String> {
        set(&self.values)
    }

    /// `blockade block --type KIND ARGS in.csv` against `mock` (see [`Work::block`]).
    pub fn block(&self, mock: &Mock, args: &[&str]) -> Command {
        self.block_file(mock, &self.input, args)
    }

    /// `blockade block --type KIND ARGS FILE`.
    pub fn block_file(&self, mock: &Mock, file: &Path, args: &[&str]) -> Command {
        let mut cmd = self.work.block(mock, &self.with_type(args));
        cmd.arg(file);
        cmd
    }

    /// `--type KIND` and `args` (in one slice: [`Work::block`] looks for `--rate` there).
    fn with_type<'a>(&self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = self.kind.type_args().to_vec();
        all.extend_from_slice(args);
        all
    }

    /// `blockade retry LEDGER ARGS`: no `--type`, retry follows the ledger's failed lines.
    pub fn retry(&self, mock: &Mock, args: &[&str]) -> Command {
        self.work.retry(mock, &self.work.ledger_path(), args)
    }

    /// `blockade unblock --type KIND ARGS` (the inputs are among `args`).
    pub fn unblock(&self, mock: &Mock, args: &[&str]) -> Command {
        self.work.sending("unblock", mock, &self.with_type(args))
    }

    /// `blockade unblock --from-ledger LEDGER --run RUN ARGS`: no `--type`, the run's
    /// lines say it.
    pub fn unblock_run(&self, mock: &Mock, run: &str, args: &[&str]) -> Command {
        let ledger = self.work.ledger_path();
        let mut all = vec![
            "--from-ledger",
            ledger.to_str().expect("UTF-8 path"),
            "--run",
            run,
        ];
        all.extend_from_slice(args);
        self.work.sending("unblock", mock, &all)
    }

    /// The ledger's outcome lines (no run lines); fails on a line that is not JSON.
    pub fn ledger(&self) -> Vec<Value> {
        self.work.ledger()
    }

    /// The values of this kind on the ledger's lines of `status`.
    pub fn ledger_values(&self, status: &str) -> BTreeSet<String> {
        self.kind.values_with_status(&self.ledger(), status)
    }

    /// The latest status of each value of this kind in the ledger.
    pub fn latest(&self) -> BTreeMap<String, String> {
        self.kind.latest(&self.ledger())
    }

    /// The id of run number `n` (from 0) of the ledger.
    pub fn run_id(&self, n: usize) -> String {
        read_run_lines(&self.work.ledger_path())[n]["run"]
            .as_str()
            .expect("run id")
            .to_owned()
    }

    /// `blockade report --json ARGS LEDGER`, parsed (exit 0 required).
    pub fn report_json(&self, args: &[&str]) -> Value {
        let ran = run(self
            .work
            .report(&["--json"])
            .args(args)
            .arg(self.work.ledger_path()));
        assert_eq!(ran.code, 0, "{}", ran.all());
        serde_json::from_str(&ran.stdout).expect("report --json is JSON")
    }

    /// A report's latest-state counts of this kind: `now.NAME`.
    pub fn counts<'a>(&self, report: &'a Value) -> &'a Value {
        self.kind.counts(report)
    }

    /// Asserts the account holds each of `expected` in exactly one record and no other
    /// value of this kind, and that the imitation accepted each exactly once (no value
    /// was sent again and blocked twice).
    pub fn assert_blocked_exactly_once<'a>(
        &self,
        mock: &Mock,
        expected: impl IntoIterator<Item = &'a String>,
    ) {
        let expected: BTreeSet<&String> = expected.into_iter().collect();
        let held = self.kind.at_account(mock);
        let missing: Vec<&&String> = expected
            .iter()
            .filter(|value| !held.contains_key(**value))
            .take(10)
            .collect();
        assert!(
            missing.is_empty(),
            "{} values never reached the imitation, e.g. {missing:?}",
            expected.iter().filter(|v| !held.contains_key(**v)).count()
        );
        let extra: Vec<&String> = held
            .keys()
            .filter(|value| !expected.contains(value))
            .take(10)
            .collect();
        assert!(
            extra.is_empty(),
            "the account holds values not expected: {extra:?}"
        );
        for (value, records) in &held {
            assert_eq!(records.len(), 1, "{value} has records {records:?}");
        }
        assert_eq!(
            received(mock),
            expected.len() as u64,
            "values accepted, repeats included: each once"
        );
    }
}

/// A hand-written ledger line of `kind`, `status` and `values`, of run `run`, as blockade
/// writes one (for ledgers a test needs in a state no imitation produces).
pub fn outcome_line(
    kind: Kind,
    run: &str,
    status: &str,
    values: &[String],
    till: &str,
    http: Option<u16>,
    error: Option<&str>,
) -> String {
    let mut line = json!({
        "run": run, "batch": 1, "status": status,
        "ids": values.iter().map(|v| kind.json(v)).collect::<Vec<_>>(),
        "block_till": till, "attempts": 1, "http_status": http, "error": error,
        "source": "hand.csv:2-9", "started_at": "2021-01-01T00:00:00.000Z",
        "finished_at": "2021-01-01T00:00:01.000Z", "ms": 1000
    });
    if kind != Kind::Contact {
        line["type"] = json!(kind.name());
    }
    line.to_string()
}

/// Appends `lines` to the ledger at `path`.
pub fn append_lines(path: &Path, lines: &[String]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open the ledger");
    for line in lines {
        writeln!(file, "{line}").expect("append");
    }
}
