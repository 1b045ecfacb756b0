//! Tests of the input readers through their public entry points (`open`,
//! `Source::from_reader`), including every fixture listed in `fixtures/bad/expected.json`.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;

use super::*;
use crate::values::Contact;
use crate::values::id::{IdError, id_reason, parse_id};

/// Items of a contact run.
type Item = super::Item<u64>;

/// `input::open` for contact IDs.
fn open(input: &str, opts: &ReadOptions) -> Result<Source<Contact>, InputError> {
    super::open(input, opts, Contact)
}

fn default_till() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn opts() -> ReadOptions {
    ReadOptions {
        default_block_till: Some(default_till()),
        ..ReadOptions::default()
    }
}

fn read(format: Format, bytes: &[u8], opts: &ReadOptions) -> Result<Vec<Item>, InputError> {
    Source::from_reader("test", Cursor::new(bytes.to_vec()), format, opts, Contact)
        .map(Iterator::collect)
}

fn read_ok(format: Format, bytes: &[u8], opts: &ReadOptions) -> Vec<Item> {
    match read(format, bytes, opts) {
        Ok(items) => items,
        Err(err) => panic!("open failed: {err}"),
    }
}

fn open_err(format: Format, bytes: &[u8], opts: &ReadOptions) -> String {
    match read(format, bytes, opts) {
        Ok(items) => panic!("expected an open error, got {items:?}"),
        Err(err) => err.to_string(),
    }
}

fn rows(items: &[Item]) -> Vec<(u64, u64)> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Row(row) => Some((row.value, row.origin.line)),
            _ => None,
        })
        .collect()
}

fn ids(items: &[Item]) -> Vec<u64> {
    rows(items).into_iter().map(|(id, _)| id).collect()
}

fn rejects(items: &[Item]) -> Vec<&Reject> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Reject(reject) => Some(reject),
            _ => None,
        })
        .collect()
}

fn broken(items: &[Item]) -> Vec<&Reject> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Broken(reject) => Some(reject),
            _ => None,
        })
        .collect()
}

/// The single reject of `items`, checked to be at `line` with `reason` in its text.
fn only_reject<'a>(items: &'a [Item], line: u64, reason: &str) -> &'a Reject {
    let found = rejects(items);
    assert_eq!(found.len(), 1, "expected one reject, got {found:?}");
    assert_eq!(found[0].origin.line, line, "{found:?}");
    assert!(
        found[0].reason.contains(reason),
        "reason {:?} lacks {reason:?}",
        found[0].reason
    );
    found[0]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

// ---------- general ----------

#[test]
fn source_can_move_to_a_reader_thread() {
    fn assert_send_static<T: Iterator<Item = Item> + Send + 'static>() {}
    assert_send_static::<Source<Contact>>();
}

#[test]
fn origin_displays_as_path_colon_line() {
    let origin = Origin {
        path: Arc::from("lists/a.csv"),
        line: 17,
    };
    assert_eq!(origin.to_string(), "lists/a.csv:17");
}

#[test]
fn format_comes_from_the_extension() {
    assert_eq!(format_from_extension("a.csv"), Some(Format::Csv));
    assert_eq!(format_from_extension("dir.x/a.CSV.GZ"), Some(Format::Csv));
    assert_eq!(format_from_extension("a.jsonl"), Some(Format::Jsonl));
    assert_eq!(format_from_extension("a.ndjson.gz"), Some(Format::Jsonl));
    assert_eq!(format_from_extension("a.json"), None);
    assert_eq!(format_from_extension("a.gz"), None);
    assert_eq!(format_from_extension("csv"), None);
}

#[test]
fn format_parses_as_a_clap_value() {
    use clap::ValueEnum;
    assert_eq!(Format::from_str("csv", false), Ok(Format::Csv));
    assert_eq!(Format::from_str("jsonl", false), Ok(Format::Jsonl));
    assert!(Format::from_str("xml", false).is_err());
}

#[test]
fn no_block_till_at_all_is_an_open_error() {
    let err = open_err(Format::Csv, b"id\n1\n", &ReadOptions::default());
    assert!(
        err.contains("--block-till") && err.contains("--block-for"),
        "{err}"
    );
}

#[test]
fn quote_or_newline_as_delimiter_is_an_open_error() {
    let options = ReadOptions {
        delimiter: b'"',
        ..opts()
    };
    let err = open_err(Format::Csv, b"id\n1\n", &options);
    assert!(err.contains("--delimiter"), "{err}");
}

// ---------- open() ----------

#[test]
fn open_reports_a_missing_file_with_its_path() {
    let err = open("/nonexistent/dir/list.csv", &opts()).unwrap_err();
    assert!(matches!(err, InputError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/nonexistent/dir/list.csv: no such file")
    );
}

#[test]
fn open_reports_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lists.csv");
    std::fs::create_dir(&path).unwrap();
    let err = open(path.to_str().unwrap(), &opts()).unwrap_err();
    assert!(matches!(err, InputError::IsDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("is a directory"));
}

#[test]
fn open_needs_a_format_for_stdin_and_odd_extensions() {
    let err = open("-", &opts()).unwrap_err();
    assert!(matches!(err, InputError::StdinNeedsFormat), "{err:?}");
    assert!(err.to_string().contains("--no-header"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.dat");
    std::fs::write(&path, "id\n5\n").unwrap();
    let path = path.to_str().unwrap();
    let err = open(path, &opts()).unwrap_err();
    assert!(
        err.to_string().contains("--format csv|jsonl|plain"),
        "{err}"
    );

    let forced = ReadOptions {
        format: Some(Format::Csv),
        ..opts()
    };
    let source = open(path, &forced).unwrap();
    assert_eq!((source.path(), source.format()), (path, Format::Csv));
    assert_eq!(ids(&source.collect::<Vec<_>>()), [5]);
}

/// Issue 12: `.txt` is a plain list, `.tsv` a CSV with tabs, and `--no-header` turns any
/// CSV-named file into a plain list.
#[test]
fn txt_is_a_plain_list_tsv_is_tab_separated_and_no_header_reads_plain() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("list.TXT");
    std::fs::write(&txt, "827\n\n\"828\"\n 829 \r\nx,1\n").unwrap();
    let source = open(txt.to_str().unwrap(), &opts()).unwrap();
    assert_eq!(source.format(), Format::Plain);
    let items = source.collect::<Vec<_>>();
    assert_eq!(ids(&items), [827, 829]);
    let found = rejects(&items);
    assert_eq!(
        found.iter().map(|r| r.origin.line).collect::<Vec<_>>(),
        [3, 5]
    );
    assert!(
        found[1].reason.contains("bad ID \"x,1\""),
        "{}",
        found[1].reason
    );

    let tsv = dir.path().join("list.tsv");
    std::fs::write(&tsv, "name\tid\nA, B\t5\n").unwrap();
    let items = open(tsv.to_str().unwrap(), &opts())
        .unwrap()
        .collect::<Vec<_>>();
    assert_eq!(ids(&items), [5]);

    let csv = dir.path().join("ids.csv");
    std::fs::write(&csv, "827\n828\n").unwrap();
    let plain = ReadOptions {
        no_header: true,
        ..opts()
    };
    let source = open(csv.to_str().unwrap(), &plain).unwrap();
    assert_eq!(source.format(), Format::Plain);
    assert_eq!(ids(&source.collect::<Vec<_>>()), [827, 828]);
    let err = open(csv.to_str().unwrap(), &opts())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("seems to have no header") && err.contains("--no-header"),
        "{err}"
    );
}

#[test]
fn spreadsheets_are_sent_to_csv_export_and_jsonl_has_no_header_to_drop() {
    for name in ["list.xlsx", "list.XLS", "list.ods"] {
        let err = open(name, &opts()).unwrap_err();
        assert!(matches!(err, InputError::Spreadsheet { .. }), "{err:?}");
        assert!(err.to_string().contains("export it to CSV"), "{err}");
    }
    let plain = ReadOptions {
        no_header: true,
        ..opts()
    };
    let err = open("list.jsonl", &plain).unwrap_err();
    assert!(matches!(err, InputError::NoHeaderJsonl { .. }), "{err:?}");
    let per_row = ReadOptions {
        block_till_field: Some("until".into()),
        ..plain
    };
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("list.txt");
    std::fs::write(&txt, "827\n").unwrap();
    let err = open(txt.to_str().unwrap(), &per_row).unwrap_err();
    assert!(
        matches!(err, InputError::PlainHasNoFields { .. }),
        "{err:?}"
    );
}

#[test]
fn format_option_overrides_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("really-jsonl.csv");
    std::fs::write(&path, "{\"id\": 9}\n").unwrap();
    let forced = ReadOptions {
        format: Some(Format::Jsonl),
        ..opts()
    };
    let items: Vec<Item> = open(path.to_str().unwrap(), &forced).unwrap().collect();
    assert_eq!(ids(&items), [9]);
}

#[test]
fn open_reads_a_gz_file_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.csv.gz");
    std::fs::write(&path, gzip(b"id,name\n11,a\n12,b\n")).unwrap();
    let source = open(path.to_str().unwrap(), &opts()).unwrap();
    assert_eq!(source.format(), Format::Csv);
    let items: Vec<Item> = source.collect();
    assert_eq!(rows(&items), [(11, 2), (12, 3)]);
}

#[test]
fn gzip_is_found_by_magic_bytes_without_gz_extension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.jsonl");
    std::fs::write(&path, gzip(b"{\"id\": 21}\n{\"id\": \"22\"}\n")).unwrap();
    let items: Vec<Item> = open(path.to_str().unwrap(), &opts()).unwrap().collect();
    assert_eq!(rows(&items), [(21, 1), (22, 2)]);
}

#[test]
fn gzip_on_a_stream_like_stdin_is_decompressed() {
    let items = read_ok(Format::Csv, &gzip(b"id\n31\n32\n"), &opts());
    assert_eq!(ids(&items), [31, 32]);
}

#[test]
fn concatenated_gzip_members_are_one_input() {
    let mut bytes = gzip(b"id\n41\n");
    bytes.extend(gzip(b"42\n43\n"));
    let items = read_ok(Format::Csv, &bytes, &opts());
    assert_eq!(rows(&items), [(41, 2), (42, 3), (43, 4)]);
}

#[test]
fn truncated_gzip_gives_rows_then_one_broken_then_ends() {
    let body: String = (1..=5000).map(|i| format!("{i},name {i}\n")).collect();
    let whole = gzip(format!("id,name\n{body}").as_bytes());
    let cut = &whole[..whole.len() / 2];
    let mut source = Source::from_reader(
        "cut.csv.gz",
        Cursor::new(cut.to_vec()),
        Format::Csv,
        &opts(),
        Contact,
    )
    .unwrap();
    let items: Vec<Item> = source.by_ref().collect();
    assert!(source.next().is_none(), "a broken source stays ended");
    let got = ids(&items);
    assert!(
        !got.is_empty() && got.len() < 5000,
        "read {} rows",
        got.len()
    );
    assert_eq!(
        got,
        (1..=got.len() as u64).collect::<Vec<_>>(),
        "rows in order, none lost"
    );
    let broke = broken(&items);
    assert_eq!(broke.len(), 1);
    assert!(matches!(items.last(), Some(Item::Broken(_))));
    assert!(
        broke[0].reason.contains("cannot read past line"),
        "{}",
        broke[0].reason
    );
    assert!(
        broke[0].origin.line > got.len() as u64,
        "{:?}",
        broke[0].origin
    );
    assert!(
        rejects(&items).is_empty(),
        "the partial last row is not a reject"
    );
}

#[test]
fn truncated_gzip_jsonl_gives_broken() {
    let body: String = (1..=5000).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    let whole = gzip(body.as_bytes());
    let items = read_ok(Format::Jsonl, &whole[..whole.len() / 2], &opts());
    let got = ids(&items);
    assert!(!got.is_empty() && got.len() < 5000);
    assert_eq!(broken(&items).len(), 1);
    assert!(matches!(items.last(), Some(Item::Broken(_))));
}

#[test]
fn corrupt_gzip_header_is_an_open_error_for_csv() {
    let mut bytes = gzip(b"id\n1\n");
    bytes[3] = 0xff; // reserved flag bits set: not a valid gzip header
    let err = open_err(Format::Csv, &bytes, &opts());
    assert!(err.contains("cannot read"), "{err}");
}

// ---------- CSV ----------

#[test]
fn csv_rows_carry_id_block_till_and_physical_line() {
    let items = read_ok(Format::Csv, b"id,name\n827,a\n828,b\n", &opts());
    assert_eq!(
        items[0],
        Item::Row(Row {
            value: 827,
            block_till: default_till(),
            origin: Origin {
                path: Arc::from("test"),
                line: 2
            },
        })
    );
    assert_eq!(rows(&items), [(827, 2), (828, 3)]);
}

#[test]
fn csv_bom_on_the_header_does_not_hide_the_first_column() {
    let items = read_ok(Format::Csv, b"\xEF\xBB\xBFid,name\n5,a\n", &opts());
    assert_eq!(rows(&items), [(5, 2)]);
}

#[test]
fn csv_crlf_line_endings() {
    let items = read_ok(Format::Csv, b"name,id\r\na,5\r\nb,6\r\n", &opts());
    assert_eq!(rows(&items), [(5, 2), (6, 3)]);
}

#[test]
fn csv_crlf_with_quotes_blank_lines_and_rejects_keeps_line_numbers() {
    let data =
        b"\xEF\xBB\xBF\r\nid,name\r\n1,\"two\r\nlines\"\r\n\r\nx,\"q\"\r\n2,b\r\n3,c,extra\r\n";
    let items = read_ok(Format::Csv, data, &opts());
    assert_eq!(rows(&items), [(1, 3), (2, 7)]);
    let found = rejects(&items);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].origin.line, found[0].input.as_str()), (6, "x,q"));
    assert_eq!(
        (found[1].origin.line, found[1].input.as_str()),
        (8, "3,c,extra")
    );
}

#[test]
fn csv_quoted_fields_with_commas_and_newlines_keep_line_numbers() {
    let data = b"id,name\n1,\"Doe, Jane\"\n2,\"two\nline\nname\"\n3,\"x\"\"y\"\n\"4\",z\n";
    let items = read_ok(Format::Csv, data, &opts());
    assert_eq!(rows(&items), [(1, 2), (2, 3), (3, 6), (4, 7)]);
}

#[test]
fn csv_semicolon_delimiter() {
    let options = ReadOptions {
        delimiter: b';',
        ..opts()
    };
    let items = read_ok(Format::Csv, b"name;id\nDoe, Jane;5\n", &options);
    assert_eq!(rows(&items), [(5, 2)]);
}

#[test]
fn csv_default_id_names_in_order_of_preference() {
    let items = read_ok(Format::Csv, b"contactId,x\n7,a\n", &opts());
    assert_eq!(ids(&items), [7]);
    let items = read_ok(Format::Csv, b"contactId,contact_id\n7,8\n", &opts());
    assert_eq!(ids(&items), [8], "contact_id is preferred over contactId");
    let items = read_ok(Format::Csv, b"contact_id,id\n7,8\n", &opts());
    assert_eq!(ids(&items), [8], "id is preferred over contact_id");
}

#[test]
fn csv_header_names_are_trimmed_and_case_is_a_fallback() {
    let items = read_ok(Format::Csv, b" name , ID \na,9\n", &opts());
    assert_eq!(ids(&items), [9]);
    let items = read_ok(Format::Csv, b"ID,id\n1,2\n", &opts());
    assert_eq!(
        ids(&items),
        [2],
        "an exact match wins over a case-insensitive one"
    );
}

#[test]
fn csv_id_field_picks_the_column() {
    let options = ReadOptions {
        id_field: Some("visitor".into()),
        ..opts()
    };
    let items = read_ok(Format::Csv, b"id,visitor\n1,2\n", &options);
    assert_eq!(ids(&items), [2]);
    let err = open_err(Format::Csv, b"id,name\n1,a\n", &options);
    assert!(err.contains("`visitor` (--id-field)"), "{err}");
    assert!(err.contains("`id`, `name`"), "{err}");
}

#[test]
fn csv_without_id_column_names_the_columns_and_suggests_id_field() {
    let err = open_err(Format::Csv, b"name,email\nAlice,a@example.com\n", &opts());
    assert_eq!(
        err,
        "test: no ID column in the CSV header: looked for `id`, `contact_id` or `contactId`, \
         the header has: `name`, `email`; name the ID column with --id-field NAME"
    );
}

#[test]
fn csv_without_id_column_hints_at_a_missing_header_or_wrong_delimiter() {
    let err = open_err(Format::Csv, b"827,a\n828,b\n", &opts());
    assert!(err.contains("seems to have no header"), "{err}");
    assert!(err.contains("add a header row"), "{err}");
    let err = open_err(Format::Csv, b"id;name\n1;a\n", &opts());
    assert!(
        err.contains("give --delimiter") && err.contains("';'"),
        "{err}"
    );
}

#[test]
fn csv_wrong_field_count_is_a_reject_and_reading_goes_on() {
    let items = read_ok(Format::Csv, b"id,name\n1,a\n2,b,extra\n3\n4,d\n", &opts());
    assert_eq!(ids(&items), [1, 4]);
    let found = rejects(&items);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].origin.line, 3);
    assert_eq!(
        found[0].reason.split(" (").next(),
        Some("expected 2 fields, found 3")
    );
    assert_eq!(found[0].input, "2,b,extra");
    assert_eq!(found[1].origin.line, 4);
    assert!(found[1].reason.starts_with("expected 2 fields, found 1"));
}

#[test]
fn csv_bad_ids_are_rejects_with_their_reason_and_row() {
    let items = read_ok(
        Format::Csv,
        b"id,name\nabc,a\n,b\n0,c\n-5,d\n5,e\n",
        &opts(),
    );
    assert_eq!(rows(&items), [(5, 6)]);
    let found = rejects(&items);
    let got: Vec<(u64, &str)> = found
        .iter()
        .map(|r| (r.origin.line, r.input.as_str()))
        .collect();
    assert_eq!(got, [(2, "abc,a"), (3, ",b"), (4, "0,c"), (5, "-5,d")]);
    assert_eq!(
        found[0].reason,
        format!("bad ID \"abc\": {}", IdError::NotWholeNumber)
    );
    assert_eq!(found[1].reason, IdError::Empty.to_string());
    assert!(found[2].reason.contains(&IdError::Zero.to_string()));
    assert!(found[3].reason.contains(&IdError::Negative.to_string()));
}

#[test]
fn csv_header_only_yields_no_rows() {
    assert!(read_ok(Format::Csv, b"id,name\n", &opts()).is_empty());
}

#[test]
fn csv_empty_input_is_an_open_error() {
    let err = open_err(Format::Csv, b"", &opts());
    assert!(err.contains("empty") && err.contains("header row"), "{err}");
}

#[test]
fn csv_invalid_utf8_only_matters_in_the_id_field() {
    let items = read_ok(Format::Csv, b"id,name\n1,caf\xe9\n\xff2,b\n", &opts());
    assert_eq!(ids(&items), [1]);
    let reject = only_reject(&items, 3, "not valid UTF-8");
    assert_eq!(reject.input, "\u{fffd}2,b");
}

#[test]
fn csv_reject_input_is_cut_to_200_chars() {
    let long = "x".repeat(5000);
    let items = read_ok(
        Format::Csv,
        format!("id,note\nbad,{long}\n").as_bytes(),
        &opts(),
    );
    let reject = only_reject(&items, 2, "not a whole number");
    assert_eq!(reject.input.chars().count(), 201);
    assert!(reject.input.starts_with("bad,xxx") && reject.input.ends_with('…'));
}

#[test]
fn csv_block_till_column_per_row() {
    let options = ReadOptions {
        block_till_field: Some("until".into()),
        default_block_till: None,
        ..ReadOptions::default()
    };
    let data = b"id,until\n1,2031-05-01T12:00:00+02:00\n2,\n3,soon\n4,2031-05-01T10:00:00Z\n";
    let items = read_ok(Format::Csv, data, &options);
    let expected = Utc.with_ymd_and_hms(2031, 5, 1, 10, 0, 0).unwrap();
    let tills: Vec<(u64, DateTime<Utc>)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Row(row) => Some((row.value, row.block_till)),
            _ => None,
        })
        .collect();
    assert_eq!(tills, [(1, expected), (4, expected)]);
    let found = rejects(&items);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].origin.line, 3);
    assert!(
        found[0].reason.starts_with("no block-till"),
        "{}",
        found[0].reason
    );
    assert!(found[0].reason.contains("`until`"), "{}", found[0].reason);
    assert_eq!(found[1].origin.line, 4);
    assert!(found[1].reason.contains("\"soon\""), "{}", found[1].reason);

    // With a default, the empty cell falls back to it.
    let with_default = ReadOptions {
        default_block_till: Some(default_till()),
        ..options.clone()
    };
    let items = read_ok(Format::Csv, b"id,until\n2,\n", &with_default);
    assert!(matches!(&items[..], [Item::Row(row)] if row.block_till == default_till()));
}

#[test]
fn csv_block_till_column_must_exist() {
    let options = ReadOptions {
        block_till_field: Some("until".into()),
        ..opts()
    };
    let err = open_err(Format::Csv, b"id,name\n1,a\n", &options);
    assert!(
        err.contains("--block-till-field `until`") && err.contains("`id`, `name`"),
        "{err}"
    );
}

#[test]
fn csv_unclosed_quote_ends_in_broken_not_unbounded_memory() {
    let mut data = b"id,name\n1,a\n2,\"never closed\n".to_vec();
    data.extend(std::iter::repeat_n(b"3,filler row\n".as_slice(), 300_000).flatten());
    let items = read_ok(Format::Csv, &data, &opts());
    assert_eq!(ids(&items), [1]);
    let broke = broken(&items);
    assert_eq!(broke.len(), 1, "{items:?}");
    assert!(
        broke[0].reason.contains("longer than 1 MiB"),
        "{}",
        broke[0].reason
    );
}

// ---------- JSONL ----------

#[test]
fn jsonl_integers_and_numeric_strings() {
    let data = b"{\"id\": 827}\n{\"id\": \"828\", \"x\": [1, {\"id\": 5}]}\n{\"id\": \" 829 \"}\n{\"id\": \"\\u0038\\u0033\\u0030\"}\n";
    let items = read_ok(Format::Jsonl, data, &opts());
    assert_eq!(rows(&items), [(827, 1), (828, 2), (829, 3), (830, 4)]);
}

#[test]
fn jsonl_each_bad_id_has_its_own_reason() {
    let cases: [(&str, &str); 17] = [
        ("{\"id\": null}", "ID is null"),
        ("{\"id\": 1.5}", "not a whole number"),
        ("{\"id\": 1e5}", "not a whole number"),
        ("{\"id\": -5}", "negative"),
        ("{\"id\": 0}", "zero"),
        ("{\"id\": true}", "ID is a boolean"),
        ("{\"id\": {\"v\": 1}}", "ID is an object"),
        ("{\"id\": [1]}", "ID is an array"),
        ("{\"id\": \"abc\"}", "not a whole number"),
        ("{\"id\": \"\"}", "empty ID"),
        ("{\"id\": 18446744073709551616}", "too large"),
        (
            "{\"email\": \"x\"}",
            "no `id`, `contact_id` or `contactId` key",
        ),
        ("{\"id\": 5, ", "broken JSON"),
        ("{\"id\": 5} trailing", "broken JSON"),
        ("[5]", "not a JSON object"),
        ("5", "not a JSON object"),
        ("\"5\"", "not a JSON object"),
    ];
    for (line, reason) in cases {
        let items = read_ok(
            Format::Jsonl,
            format!("{line}\n{{\"id\": 1}}\n").as_bytes(),
            &opts(),
        );
        assert_eq!(rows(&items), [(1, 2)], "line {line}");
        let reject = only_reject(&items, 1, reason);
        assert_eq!(reject.input, line);
    }
}

#[test]
fn jsonl_huge_number_is_rejected_not_rounded() {
    let line = format!("{{\"id\": {}}}\n", "9".repeat(5000));
    let items = read_ok(Format::Jsonl, line.as_bytes(), &opts());
    let reject = only_reject(&items, 1, "too large");
    assert!(reject.input.ends_with('…'));
}

#[test]
fn jsonl_invalid_utf8_is_a_reject() {
    let items = read_ok(
        Format::Jsonl,
        b"{\"id\": 1, \"n\": \"\xff\"}\n{\"id\": 2}\n",
        &opts(),
    );
    assert_eq!(ids(&items), [2]);
    only_reject(&items, 1, "not valid UTF-8");
}

#[test]
fn jsonl_crlf_bom_blank_lines_and_no_final_newline() {
    let data = b"\xEF\xBB\xBF{\"id\": 1}\r\n\r\n   \n\t\r\n{\"id\": 2}\r\n{\"id\": 3}";
    let items = read_ok(Format::Jsonl, data, &opts());
    assert_eq!(rows(&items), [(1, 1), (2, 5), (3, 6)]);
}

#[test]
fn jsonl_id_field_and_default_keys() {
    let items = read_ok(Format::Jsonl, b"{\"contactId\": 1}\n{\"contact_id\": 2, \"contactId\": 9}\n{\"id\": 3, \"contact_id\": 9}\n", &opts());
    assert_eq!(ids(&items), [1, 2, 3]);
    let options = ReadOptions {
        id_field: Some("visitor".into()),
        ..opts()
    };
    let items = read_ok(
        Format::Jsonl,
        b"{\"id\": 1, \"visitor\": 4}\n{\"id\": 5}\n",
        &options,
    );
    assert_eq!(ids(&items), [4]);
    only_reject(&items, 2, "no `visitor` key (--id-field)");
}

#[test]
fn jsonl_block_till_key() {
    let options = ReadOptions {
        block_till_field: Some("until".into()),
        default_block_till: Some(default_till()),
        ..ReadOptions::default()
    };
    let data = b"{\"id\": 1, \"until\": \"2031-05-01T12:00:00+02:00\"}\n{\"id\": 2, \"until\": null}\n{\"id\": 3}\n{\"id\": 4, \"until\": 5}\n{\"id\": 5, \"until\": \"later\"}\n";
    let items = read_ok(Format::Jsonl, data, &options);
    let tills: Vec<(u64, DateTime<Utc>)> = items
        .iter()
        .filter_map(|item| match item {
            Item::Row(row) => Some((row.value, row.block_till)),
            _ => None,
        })
        .collect();
    let own = Utc.with_ymd_and_hms(2031, 5, 1, 10, 0, 0).unwrap();
    assert_eq!(tills, [(1, own), (2, default_till()), (3, default_till())]);
    let found = rejects(&items);
    assert_eq!(found.len(), 2);
    assert!(
        found[0].reason.contains("must be an RFC 3339 string"),
        "{}",
        found[0].reason
    );
    assert!(found[1].reason.contains("\"later\""), "{}", found[1].reason);

    let no_default = ReadOptions {
        default_block_till: None,
        ..options
    };
    let items = read_ok(Format::Jsonl, b"{\"id\": 3}\n", &no_default);
    only_reject(&items, 1, "no block-till");
}

#[test]
fn jsonl_line_over_1_mib_is_one_reject_and_the_next_line_is_read() {
    let mut data = b"{\"id\": 1}\n{\"id\": 2, \"pad\": \"".to_vec();
    data.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    data.extend(b"\"}\n{\"id\": 3}\n");
    let items = read_ok(Format::Jsonl, &data, &opts());
    assert_eq!(rows(&items), [(1, 1), (3, 3)]);
    let reject = only_reject(&items, 2, "line longer than 1 MiB");
    assert!(reject.input.starts_with("{\"id\": 2, \"pad\": \"xxx"));
    assert_eq!(reject.input.chars().count(), 201);
}

#[test]
fn jsonl_over_long_last_line_without_newline() {
    let mut data = b"{\"id\": 1}\n".to_vec();
    data.extend(std::iter::repeat_n(b'y', 2 * 1024 * 1024));
    let items = read_ok(Format::Jsonl, &data, &opts());
    assert_eq!(ids(&items), [1]);
    only_reject(&items, 2, "line longer than 1 MiB");
}

#[test]
fn jsonl_line_of_exactly_1_mib_is_read() {
    let prefix = b"{\"id\": 7, \"pad\": \"";
    let suffix = b"\"}";
    let mut data = prefix.to_vec();
    data.extend(std::iter::repeat_n(
        b'z',
        MAX_LINE - prefix.len() - suffix.len(),
    ));
    data.extend(suffix);
    assert_eq!(data.len(), MAX_LINE);
    data.push(b'\n');
    assert_eq!(ids(&read_ok(Format::Jsonl, &data, &opts())), [7]);
}

const MAX_LINE: usize = super::jsonl::MAX_LINE_BYTES;

#[test]
fn jsonl_empty_input_is_an_open_error() {
    let err = open_err(Format::Jsonl, b"", &opts());
    assert!(err.contains("test: the input is empty"), "{err}");
}

// ---------- fixtures ----------

#[test]
fn contacts_fixtures_are_all_valid_and_disjoint() {
    let csv: Vec<Item> = open(fixture("contacts.csv").to_str().unwrap(), &opts())
        .unwrap()
        .collect();
    let jsonl: Vec<Item> = open(fixture("contacts.jsonl").to_str().unwrap(), &opts())
        .unwrap()
        .collect();
    assert_eq!(csv.len(), 3000);
    assert_eq!(jsonl.len(), 500);
    let mut csv_ids = ids(&csv);
    let jsonl_ids = ids(&jsonl);
    assert_eq!(csv_ids.len(), 3000, "{:?}", rejects(&csv).first());
    assert_eq!(jsonl_ids.len(), 500, "{:?}", rejects(&jsonl).first());
    assert_eq!(rows(&csv).last().map(|&(_, line)| line), Some(3001));
    csv_ids.sort_unstable();
    csv_ids.dedup();
    assert_eq!(csv_ids.len(), 3000, "IDs are unique");
    assert!(
        jsonl_ids
            .iter()
            .all(|id| csv_ids.binary_search(id).is_err())
    );
}

#[test]
fn bad_fixtures_match_expected_json() {
    let expected_path = fixture("bad/expected.json");
    let text = std::fs::read_to_string(&expected_path).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let path = fixture(&format!("bad/{file}"));
        let mut options = opts();
        if let Some(custom) = case.get("options") {
            if let Some(field) = custom.get("block_till_field") {
                options.block_till_field = field.as_str().map(str::to_owned);
            }
            if let Some(default) = custom.get("default_block_till") {
                options.default_block_till = default
                    .as_str()
                    .map(|at| DateTime::parse_from_rfc3339(at).unwrap().to_utc());
            }
            if let Some(delimiter) = custom.get("delimiter").and_then(|d| d.as_str()) {
                options.delimiter = delimiter.as_bytes()[0];
            }
        }
        let opened = open(path.to_str().unwrap(), &options);
        if let Some(wanted) = case["open_error"].as_str() {
            let err = opened.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains(wanted),
                "{file}: open error {err:?} lacks {wanted:?}"
            );
            assert!(
                err.contains(file),
                "{file}: error {err:?} does not name the file"
            );
            continue;
        }
        let items: Vec<Item> = match opened {
            Ok(source) => source.collect(),
            Err(err) => panic!("{file}: {err}"),
        };
        let want_ids: Vec<u64> = case["valid_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_u64().unwrap())
            .collect();
        assert_eq!(ids(&items), want_ids, "{file}: valid ids");
        let want_rejects = case["rejects"].as_array().unwrap();
        let got_rejects = rejects(&items);
        assert_eq!(
            got_rejects.len(),
            want_rejects.len(),
            "{file}: rejects {got_rejects:#?}"
        );
        for (got, want) in got_rejects.iter().zip(want_rejects) {
            assert_eq!(
                got.origin.line,
                want["line"].as_u64().unwrap(),
                "{file}: {got:?}"
            );
            let part = want["reason_contains"].as_str().unwrap();
            assert!(got.reason.contains(part), "{file}: {got:?} lacks {part:?}");
        }
        let got_broken = broken(&items);
        match case["broken"].as_object() {
            None => assert!(got_broken.is_empty(), "{file}: {got_broken:?}"),
            Some(want) => {
                assert_eq!(got_broken.len(), 1, "{file}");
                assert_eq!(
                    Some(got_broken[0].origin.line),
                    want["line"].as_u64(),
                    "{file}"
                );
                let part = want["reason_contains"].as_str().unwrap();
                assert!(
                    got_broken[0].reason.contains(part),
                    "{file}: {:?}",
                    got_broken[0]
                );
            }
        }
    }
}

// ---------- never panics ----------

/// Physical lines in `bytes`: one more than its newlines.
fn line_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

fn check_lines(format: Format, bytes: &[u8]) -> Result<(), TestCaseError> {
    let options = ReadOptions {
        block_till_field: Some("t".into()),
        ..opts()
    };
    for options in [opts(), options] {
        let Ok(source) =
            Source::from_reader("p", Cursor::new(bytes.to_vec()), format, &options, Contact)
        else {
            continue;
        };
        for item in source {
            let origin = match &item {
                Item::Row(row) => &row.origin,
                Item::Reject(reject) | Item::Broken(reject) => &reject.origin,
            };
            prop_assert!(
                origin.line >= 1 && origin.line <= line_count(bytes),
                "{item:?}"
            );
            if let Item::Reject(reject) = &item {
                prop_assert!(reject.input.chars().count() <= 201);
                prop_assert!(!reject.reason.is_empty());
            }
        }
    }
    Ok(())
}

fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"id".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"t".to_vec()),
        Just(b"2030-01-01T00:00:00Z".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        "[0-9]{1,22}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn jsonlish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"{\"id\": ".to_vec()),
        Just(b"{\"t\": ".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b", ".to_vec()),
        Just(b"null".to_vec()),
        Just(b"\"2030-01-01T00:00:00Z\"".to_vec()),
        "-?[0-9]{1,30}(\\.[0-9])?".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_lines_stay_in_range(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_lines(Format::Csv, &bytes)?;
        check_lines(Format::Jsonl, &bytes)?;
    }

    #[test]
    fn csv_like_bytes_never_panic_and_lines_stay_in_range(bytes in csvish()) {
        check_lines(Format::Csv, &bytes)?;
    }

    #[test]
    fn jsonl_like_bytes_never_panic_and_lines_stay_in_range(bytes in jsonlish()) {
        check_lines(Format::Jsonl, &bytes)?;
    }
}

// ---------- every row accounted for exactly once (issue "Hardening") ----------

/// One generated data line: a valid ID (from a small range, so duplicates are common) or
/// garbage that is never blank and never spans lines (no `\n`, `\r` or `"`).
#[derive(Clone, Debug)]
enum Line {
    Valid(u64),
    Garbage(Vec<u8>),
}

fn data_line() -> impl Strategy<Value = Line> {
    let garbage_byte =
        any::<u8>().prop_filter("stays on its line", |b| !matches!(b, b'\n' | b'\r' | b'"'));
    prop_oneof![
        3 => (1u64..40).prop_map(Line::Valid),
        1 => proptest::collection::vec(garbage_byte, 1..16).prop_map(Line::Garbage),
        1 => prop_oneof![
            Just(b"0".to_vec()),
            Just(b"-5".to_vec()),
            Just(b"1.5".to_vec()),
            Just(b" ".to_vec()),
            Just(b"99999999999999999999999".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just(b"7\x008".to_vec()),
        ]
        .prop_map(Line::Garbage),
    ]
}

/// Feeds the rows through the real dedupe and chunker and checks that every data line ends
/// in exactly one place: a batch, a reject or a duplicate.
fn account(
    items: &[Item],
    lines: &[Line],
    first_line: u64,
    batch_size: usize,
) -> Result<(), TestCaseError> {
    use crate::values::batch::Chunker;
    use crate::values::dedupe::{Dedupe, Seen};

    let k = lines.len() as u64;
    let mut origins: Vec<u64> = Vec::new();
    let (mut rows, mut rejected, mut duplicates) = (0u64, 0u64, 0u64);
    let mut dedupe = Dedupe::<Contact>::new();
    let mut chunker = Chunker::new(Contact, batch_size);
    let mut batches = Vec::new();
    for item in items {
        match item {
            Item::Row(row) => {
                rows += 1;
                origins.push(row.origin.line);
                // A line generated valid must be read as exactly that ID.
                let index = (row.origin.line - first_line) as usize;
                if let Some(Line::Valid(id)) = lines.get(index) {
                    prop_assert_eq!(row.value, *id);
                }
                match dedupe.check(row.value) {
                    Seen::New => batches.extend(chunker.push(row.clone())),
                    Seen::Duplicate => duplicates += 1,
                    Seen::AlreadyBlocked => prop_assert!(false, "no --resume set"),
                }
            }
            Item::Reject(reject) => {
                rejected += 1;
                origins.push(reject.origin.line);
                let index = (reject.origin.line - first_line) as usize;
                prop_assert!(
                    !matches!(lines.get(index), Some(Line::Valid(_))),
                    "a valid line was rejected: {:?}",
                    reject
                );
            }
            Item::Broken(reject) => {
                prop_assert!(false, "nothing here breaks a source: {:?}", reject)
            }
        }
    }
    batches.extend(chunker.finish());
    prop_assert_eq!(rows + rejected, k, "Rows + Rejects == data lines");
    prop_assert_eq!(
        origins,
        (first_line..first_line + k).collect::<Vec<_>>(),
        "one item per line, in order"
    );
    let mut sent: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.values.iter().copied())
        .collect();
    prop_assert!(
        batches
            .iter()
            .all(|b| !b.values.is_empty() && b.values.len() <= batch_size)
    );
    prop_assert_eq!(
        sent.len() as u64 + rejected + duplicates,
        k,
        "blocked + rejected + duplicate == rows read"
    );
    sent.sort_unstable();
    let mut distinct = sent.clone();
    distinct.dedup();
    prop_assert_eq!(&distinct, &sent, "each ID is sent once");
    let mut valid: Vec<u64> = lines
        .iter()
        .filter_map(|line| match line {
            Line::Valid(id) => Some(*id),
            Line::Garbage(_) => None,
        })
        .collect();
    valid.sort_unstable();
    valid.dedup();
    prop_assert!(
        valid.iter().all(|id| sent.binary_search(id).is_ok()),
        "every valid ID is sent"
    );
    Ok(())
}

proptest! {
    #[test]
    fn csv_every_data_line_is_one_row_or_reject_and_ends_in_one_place(
        lines in proptest::collection::vec(data_line(), 0..200),
        batch_size in 1usize..12,
    ) {
        let mut text = b"id,name\n".to_vec();
        for line in &lines {
            match line {
                Line::Valid(id) => text.extend(format!("{id},n\n").into_bytes()),
                Line::Garbage(bytes) => {
                    text.extend(bytes);
                    text.push(b'\n');
                }
            }
        }
        let items = read_ok(Format::Csv, &text, &opts());
        account(&items, &lines, 2, batch_size)?;
    }

    #[test]
    fn jsonl_every_data_line_is_one_row_or_reject_and_ends_in_one_place(
        lines in proptest::collection::vec(data_line(), 1..200),
        batch_size in 1usize..12,
    ) {
        let mut text = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            match line {
                Line::Valid(id) if index % 2 == 0 => text.extend(format!("{{\"id\": {id}}}\n").into_bytes()),
                Line::Valid(id) => text.extend(format!("{{\"contact_id\": \"{id}\", \"x\": [1]}}\n").into_bytes()),
                Line::Garbage(bytes) => {
                    // Never blank: a leading `x` keeps whitespace-only garbage a line.
                    text.push(b'x');
                    text.extend(bytes);
                    text.push(b'\n');
                }
            }
        }
        let items = read_ok(Format::Jsonl, &text, &opts());
        account(&items, &lines, 1, batch_size)?;
    }

    /// A gzip stream of arbitrary content, whole or cut anywhere, never panics; a cut one
    /// ends in at most one `Broken`, which is the last item.
    #[test]
    fn arbitrary_gzip_whole_or_cut_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = gzip(&bytes);
        let cut_at = 2 + cut.index(whole.len() - 1);
        for data in [&whole[..], &whole[..cut_at]] {
            for format in [Format::Csv, Format::Jsonl] {
                let Ok(source) = Source::from_reader("g", Cursor::new(data.to_vec()), format, &opts(), Contact) else {
                    continue;
                };
                let items: Vec<Item> = source.collect();
                let broken_at: Vec<usize> = items
                    .iter()
                    .enumerate()
                    .filter(|(_, item)| matches!(item, Item::Broken(_)))
                    .map(|(index, _)| index)
                    .collect();
                prop_assert!(broken_at.len() <= 1);
                if let Some(&at) = broken_at.first() {
                    prop_assert_eq!(at, items.len() - 1, "Broken is last");
                }
            }
        }
    }

    #[test]
    fn parse_id_reads_every_u64_however_padded(
        id in 1u64..,
        zeros in 0usize..5,
        pad in prop_oneof![Just(""), Just(" "), Just("\t"), Just("\u{a0}")],
    ) {
        let text = format!("{pad}{}{id}{pad}", "0".repeat(zeros));
        prop_assert_eq!(parse_id(&text), Ok(id));
    }

    #[test]
    fn parse_id_never_panics_and_accepts_only_digits(text in "\\PC{0,30}|[0-9]{0,40}") {
        if let Ok(id) = parse_id(&text) {
            prop_assert!(id >= 1);
            let trimmed = text.trim();
            prop_assert!(trimmed.bytes().all(|b| b.is_ascii_digit()), "{:?}", text);
            prop_assert_eq!(trimmed.trim_start_matches('0'), id.to_string());
        }
    }
}

// ---------- hostile input, read directly ----------

#[test]
fn csv_header_over_1_mib_is_an_open_error_naming_the_header() {
    let mut data = b"id".to_vec();
    for column in 0..200_000 {
        data.extend(format!(",column{column}").into_bytes());
    }
    data.extend(b"\n1\n");
    let err = open_err(Format::Csv, &data, &opts());
    assert!(
        err.starts_with("test: the first line (the CSV header) is longer than 1 MiB"),
        "{err}"
    );
}

#[test]
fn csv_binary_header_hints_that_it_is_not_text() {
    let err = open_err(Format::Csv, b"\x00\x01\xfe\xff,zz\n1,2\n", &opts());
    assert!(
        err.contains("no ID column") && err.contains("the first line is not text"),
        "{err}"
    );
}

#[test]
fn csv_many_columns_list_is_cut_with_the_count() {
    let mut data = b"a".to_vec();
    for column in 1..1000 {
        data.extend(format!(",c{column}").into_bytes());
    }
    data.push(b'\n');
    let err = open_err(Format::Csv, &data, &opts());
    assert!(err.contains("… (1000 columns in all)"), "{err}");
    // Backticks: 3 names looked for, then the 20 columns shown.
    assert_eq!(
        err.matches('`').count(),
        2 * (3 + 20),
        "20 columns shown: {err}"
    );
}

#[test]
fn jsonl_line_over_64_mib_ends_the_source_with_broken() {
    // A line of NULs without a newline, as `/dev/zero` or a gzip bomb would give; it must
    // end after the skip cap, not run to the end of the input.
    struct Zeros(u64);
    impl std::io::Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(usize::try_from(self.0).unwrap_or(usize::MAX));
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }
    let head = Cursor::new(b"{\"id\": 1}\n".to_vec());
    // 1 TiB: reading it all would never finish within the test.
    let stream = std::io::Read::chain(head, Zeros(1 << 40));
    let items: Vec<Item> = Source::from_reader("zeros", stream, Format::Jsonl, &opts(), Contact)
        .unwrap()
        .collect();
    assert_eq!(ids(&items), [1]);
    let broke = broken(&items);
    assert_eq!(broke.len(), 1, "{items:?}");
    assert_eq!(broke[0].origin.line, 2);
    assert!(
        broke[0].reason.contains("longer than 64 MiB"),
        "{}",
        broke[0].reason
    );
    assert!(broke[0].input.starts_with("\0\0") && broke[0].input.ends_with('…'));
}

#[test]
fn jsonl_deep_nesting_is_skipped_or_rejected_without_recursion() {
    let depth = 100_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let data = format!(
        "{{\"id\": 1, \"x\": {deep}}}\n{{\"id\": {deep}}}\n{{\"id\": {}\n",
        "[".repeat(depth)
    );
    let items = read_ok(Format::Jsonl, data.as_bytes(), &opts());
    assert_eq!(ids(&items), [1]);
    let found = rejects(&items);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].reason.contains("ID is an array"),
        "{}",
        found[0].reason
    );
    assert!(
        found[1].reason.contains("broken JSON"),
        "{}",
        found[1].reason
    );
}

// ---------- CSV fast path (plain lines) against the slow path (csv_core) ----------

/// A reader that hands out at most `step` bytes per `read`, to put every line and every
/// record across read boundaries.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn read_in_steps(bytes: &[u8], step: usize, opts: &ReadOptions) -> Vec<Item> {
    let trickle = Trickle {
        data: bytes.to_vec(),
        at: 0,
        step,
    };
    match Source::from_reader("test", trickle, Format::Csv, opts, Contact) {
        Ok(source) => source.collect(),
        Err(err) => panic!("open failed: {err}"),
    }
}

/// Reads `bytes` whole, 1 byte at a time and 7 bytes at a time; all three must agree.
fn read_every_way(bytes: &[u8], opts: &ReadOptions) -> Vec<Item> {
    let whole = read_ok(Format::Csv, bytes, opts);
    for step in [1, 7] {
        assert_eq!(
            read_in_steps(bytes, step, opts),
            whole,
            "read {step} bytes at a time"
        );
    }
    whole
}

/// The reader as it was before the fast path: the `csv` crate over the whole input, each
/// record checked as the old `CsvRows::check_record` did. `None` when the header has no
/// `id` column (then the real reader must fail to open). One deliberate difference: the
/// line of a record is the physical line of its first byte (the `csv` crate reports the
/// line before any blank lines that precede it).
fn reference_csv(bytes: &[u8], opts: &ReadOptions) -> Option<Vec<Item>> {
    use self::cell::{BlockTill, Snippet};
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = records.next()?.ok()?;
    let column = |name: &str| {
        header
            .iter()
            .position(|field| String::from_utf8_lossy(field).trim() == name)
    };
    let id_column = column("id")?;
    let till = opts.block_till_field.as_ref().map(|field| {
        let block_till = BlockTill::PerRow {
            field: field.clone(),
            default: opts.default_block_till,
        };
        (
            column(field).expect("the till column is in the header"),
            block_till,
        )
    });
    let mut items = Vec::new();
    for record in records {
        let record = record.expect("reading a slice cannot fail");
        if record.len() == 1 && record.get(0) == Some(b"\r".as_slice()) {
            continue;
        }
        let pos = record.position().expect("records read have a position");
        let blank = bytes[pos.byte() as usize..]
            .iter()
            .take_while(|&&byte| byte == b'\n')
            .count();
        let line = pos.line() + blank as u64;
        let origin = Origin {
            path: Arc::from("test"),
            line,
        };
        let reject = |reason: String| {
            let mut snippet = Snippet::default();
            let last = record.len() - 1;
            for (index, field) in record.iter().enumerate() {
                if index > 0 {
                    snippet.push(&[opts.delimiter]);
                }
                let field = match field.strip_suffix(b"\r") {
                    Some(trimmed) if index == last => trimmed,
                    _ => field,
                };
                snippet.push(field);
            }
            Item::Reject(Reject {
                origin: origin.clone(),
                input: snippet.finish(),
                reason,
            })
        };
        if record.len() != header.len() {
            items.push(reject(format!(
                "expected {} fields, found {} (quote values that contain the delimiter)",
                header.len(),
                record.len()
            )));
            continue;
        }
        let Ok(id_text) = std::str::from_utf8(&record[id_column]) else {
            items.push(reject("ID is not valid UTF-8".to_owned()));
            continue;
        };
        let id = match parse_id(id_text) {
            Ok(id) => id,
            Err(err) => {
                items.push(reject(id_reason(id_text, &err)));
                continue;
            }
        };
        let block_till = match &till {
            None => Ok(opts.default_block_till.expect("a default block-till")),
            Some((column, block_till)) => match std::str::from_utf8(&record[*column]) {
                Ok(text) => block_till.resolve(Some(text)),
                Err(_) => Err("block-till is not valid UTF-8".to_owned()),
            },
        };
        items.push(match block_till {
            Ok(block_till) => Item::Row(Row {
                value: id,
                block_till,
                origin,
            }),
            Err(reason) => reject(reason),
        });
    }
    Some(items)
}

fn csv_body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[0-9]{1,9}".prop_map(String::into_bytes),
        1 => "[0-9]{18,21}".prop_map(String::into_bytes),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        3 => Just(b",".to_vec()),
        1 => Just(b";".to_vec()),
        2 => Just(b"\"".to_vec()),
        1 => Just(b"\"\"".to_vec()),
        1 => Just(b" ".to_vec()),
        1 => Just(b"\t".to_vec()),
        1 => Just(b"0".to_vec()),
        1 => Just(b"-".to_vec()),
        1 => Just(b"x".to_vec()),
        1 => Just(b"2030-01-01T00:00:00Z".to_vec()),
        1 => Just(b"\xEF\xBB\xBF".to_vec()),
        1 => Just("\u{a0}".as_bytes().to_vec()),
        1 => Just(b"\xff".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    /// The fast path (plain lines) and the state machine (quoted records) together must
    /// read any CSV-like input exactly as the `csv` crate does: same rows, same rejects
    /// with the same snippets and reasons, same line numbers; whole or in small reads.
    #[test]
    fn csv_reader_matches_the_csv_crate(
        header in prop_oneof![
            Just(("id\n", ',', false)),
            Just(("id,name\n", ',', false)),
            Just(("name,id,t\n", ',', true)),
            Just(("t;id\r\n", ';', true)),
        ],
        body in csv_body(),
        step in 1usize..12,
    ) {
        let (header, delimiter, per_row) = header;
        let options = ReadOptions {
            delimiter: delimiter as u8,
            block_till_field: per_row.then(|| "t".to_owned()),
            ..opts()
        };
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend(&body);
        let expected = reference_csv(&bytes, &options).expect("the header has `id`");
        let whole = read_ok(Format::Csv, &bytes, &options);
        prop_assert_eq!(&whole, &expected);
        prop_assert_eq!(read_in_steps(&bytes, step, &options), expected);
    }
}

#[test]
fn csv_quoted_newline_between_plain_lines_keeps_line_numbers() {
    let data = b"id,name\n1,a\n2,\"two\nlines\"\n3,c\n\"4\",\"x\n\ny\"\n5,e\n6\n7,g";
    let items = read_every_way(data, &opts());
    assert_eq!(
        rows(&items),
        [(1, 2), (2, 3), (3, 5), (4, 6), (5, 9), (7, 11)]
    );
    let wrong = only_reject(&items, 10, "expected 2 fields, found 1");
    assert_eq!(wrong.input, "6");
}

#[test]
fn csv_quote_in_another_column_reads_like_a_plain_line() {
    let data = b"name,id\n\"Doe, Jane\",11\nJane \"JD\" Doe,12\n\"a\"\"b\",13\nplain,14\n";
    let items = read_every_way(data, &opts());
    assert_eq!(rows(&items), [(11, 2), (12, 3), (13, 4), (14, 5)]);
    // The quoted field is unquoted in a reject's snippet, as the csv crate reads it.
    let items = read_every_way(b"name,id\n\"Doe, Jane\",x\n", &opts());
    assert_eq!(only_reject(&items, 2, "bad ID \"x\"").input, "Doe, Jane,x");
}

#[test]
fn csv_lines_across_read_and_buffer_boundaries_read_the_same() {
    // Far more than the 64 KiB read buffer, with lines of every length from 2 to 40 bytes,
    // so lines straddle the buffer's end at many offsets; some quoted, some CRLF.
    let mut data = b"id,name\n".to_vec();
    let mut expected = Vec::new();
    for index in 0..12_000u64 {
        let id = 1 + index * 7919 % 100_000_000;
        let name = "n".repeat((index % 39) as usize);
        match index % 5 {
            0 => data.extend(format!("{id},\"{name}\"\n").into_bytes()),
            1 => data.extend(format!("{id},{name}\r\n").into_bytes()),
            _ => data.extend(format!("{id},{name}\n").into_bytes()),
        }
        expected.push((id, index + 2));
    }
    assert!(data.len() > 3 * READ_BUFFER_BYTES);
    let whole = read_ok(Format::Csv, &data, &opts());
    assert_eq!(rows(&whole), expected);
    assert_eq!(whole.len(), expected.len(), "no rejects");
    for step in [1, 7, 4093, READ_BUFFER_BYTES - 1, READ_BUFFER_BYTES + 1] {
        assert_eq!(read_in_steps(&data, step, &opts()), whole, "step {step}");
    }
}

#[test]
fn csv_one_column_digits_lines_and_their_edge_cases() {
    // The one-column file is the common case with its own fast path; each odd line must
    // still get the reason `parse_id` gives.
    let data = b"id\n1\n007\n0\n000\n18446744073709551615\n18446744073709551616\n\
                  9999999999999999999\n12\r\n 13 \n14x\n\n15";
    let items = read_every_way(data, &opts());
    assert_eq!(
        rows(&items),
        [
            (1, 2),
            (7, 3),
            (u64::MAX, 6),
            (9_999_999_999_999_999_999, 8),
            (12, 9),
            (13, 10),
            (15, 13)
        ]
    );
    let found: Vec<(u64, &str)> = rejects(&items)
        .iter()
        .map(|reject| (reject.origin.line, reject.input.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (4, "0"),
            (5, "000"),
            (7, "18446744073709551616"),
            (11, "14x")
        ]
    );
    assert!(rejects(&items)[2].reason.contains("too large"));
}

#[test]
fn csv_blank_lf_lines_do_not_shift_line_numbers() {
    // The csv crate reported a record after blank lines at the first blank line's number;
    // the origin is the physical line where the record starts.
    let data = b"id,name\n\n\n1,a\n\r\n\n2,\"b\nc\"\n\n3,c\n";
    let items = read_every_way(data, &opts());
    assert_eq!(rows(&items), [(1, 4), (2, 7), (3, 10)]);
}

#[test]
fn csv_line_longer_than_the_read_buffer_is_read_whole() {
    let long = "n".repeat(3 * READ_BUFFER_BYTES + 5);
    let data = format!("id,name\n1,{long}\n2,b\n3,{long}x\n");
    let items = read_ok(Format::Csv, data.as_bytes(), &opts());
    assert_eq!(rows(&items), [(1, 2), (2, 3), (3, 4)]);
    assert_eq!(read_in_steps(data.as_bytes(), 1000, &opts()), items);
}

#[test]
fn csv_record_of_1_mib_is_read_and_one_byte_more_breaks_the_file_off() {
    let record = |len: usize| {
        let mut row = b"5,".to_vec();
        row.resize(len, b'z');
        row
    };
    for quoted in [false, true] {
        let mut at_cap = record(super::csv::MAX_RECORD_BYTES);
        if quoted {
            at_cap[2] = b'"';
            at_cap.push(b'"');
            at_cap.remove(3);
        }
        assert_eq!(at_cap.len(), super::csv::MAX_RECORD_BYTES);
        let mut data = b"id,name\n".to_vec();
        data.extend(&at_cap);
        data.extend(b"\r\n6,b\n");
        // Counted without the line break: the `\r` makes it one byte too many.
        let items = read_ok(Format::Csv, &data, &opts());
        let broke = broken(&items);
        assert_eq!(broke.len(), 1, "quoted {quoted}: {items:?}");
        assert_eq!(broke[0].origin.line, 2);
        assert!(
            broke[0]
                .reason
                .contains("from line 2 on is longer than 1 MiB")
        );

        let mut data = b"id,name\n".to_vec();
        data.extend(&at_cap);
        data.extend(b"\n6,b\n");
        let items = read_ok(Format::Csv, &data, &opts());
        assert_eq!(rows(&items), [(5, 2), (6, 3)], "quoted {quoted}");
        // At the end of the input without a line break, too.
        let items = read_ok(Format::Csv, &data[..data.len() - 5], &opts());
        assert_eq!(rows(&items), [(5, 2)], "quoted {quoted}, no final newline");
    }
}

#[test]
fn csv_bom_split_over_reads_is_dropped_even_before_a_quoted_header() {
    for data in [
        &b"\xEF\xBB\xBF\"id\",name\n5,a\n"[..],
        b"\xEF\xBB\xBFid\n5\n",
    ] {
        assert_eq!(rows(&read_every_way(data, &opts())), [(5, 2)]);
    }
    // Only at the start of the input: a BOM later is data (here inside an ID).
    let items = read_every_way(b"id\n\xEF\xBB\xBF6\n", &opts());
    only_reject(&items, 2, "bad ID");
}

#[test]
fn csv_interrupted_reads_are_retried() {
    struct Interrupting {
        inner: Cursor<Vec<u8>>,
        calls: u32,
    }
    impl std::io::Read for Interrupting {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let step = buf.len().min(3);
            self.inner.read(&mut buf[..step])
        }
    }
    let stream = Interrupting {
        inner: Cursor::new(b"id,name\n1,a\n2,\"b\nb\"\n3,c\n".to_vec()),
        calls: 0,
    };
    let items: Vec<Item> = Source::from_reader("test", stream, Format::Csv, &opts(), Contact)
        .unwrap()
        .collect();
    assert_eq!(rows(&items), [(1, 2), (2, 3), (3, 5)]);
}

#[test]
fn csv_read_error_mid_line_is_broken_at_that_line() {
    struct FailAfter(Cursor<Vec<u8>>);
    impl std::io::Read for FailAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("disk on fire")),
                read => Ok(read),
            }
        }
    }
    for tail in [&b"3,partial"[..], b"3,\"partial\nquoted"] {
        let mut data = b"id,name\n1,a\n2,b\n".to_vec();
        data.extend(tail);
        let items: Vec<Item> = Source::from_reader(
            "test",
            FailAfter(Cursor::new(data)),
            Format::Csv,
            &opts(),
            Contact,
        )
        .unwrap()
        .collect();
        assert_eq!(rows(&items), [(1, 2), (2, 3)]);
        let broke = broken(&items);
        assert_eq!(broke.len(), 1, "{items:?}");
        assert_eq!(broke[0].origin.line, 4);
        assert!(
            broke[0]
                .reason
                .starts_with("cannot read past line 4: disk on fire;"),
            "{}",
            broke[0].reason
        );
    }
}
