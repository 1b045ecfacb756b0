//! Criterion benchmarks of the input stage alone: `blockade::input::Source::from_reader`
//! over an in-memory CSV of 10M IDs (target: at least 300 MB/s), the same for JSONL, and
//! the dedupe filter the producer runs on every ID.
//!
//! The inputs are built once and shared (`Arc<[u8]>` behind a `Cursor`), so each
//! iteration measures parsing only, never copying or disk. Throughput is reported in
//! bytes of input, so criterion prints MB/s directly.
//!
//! `cargo bench --bench reader` runs the full sizes. Without `--bench` (for example
//! `cargo test --benches`, where criterion runs each benchmark once as a smoke test) the
//! inputs are 100× smaller so the debug build stays quick.

use std::hint::black_box;
use std::io::{Cursor, Write};
use std::sync::Arc;
use std::time::Duration;

use blockade::input::{Format, Item, ReadOptions, Source};
use blockade::values::Contact;
use blockade::values::dedupe::Dedupe;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The input bytes, shared by every iteration without copying.
#[derive(Clone)]
struct Shared(Arc<[u8]>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Full size under `cargo bench`, a hundredth otherwise (smoke run in a debug build).
fn ids_for(full: u64) -> u64 {
    if std::env::args().any(|arg| arg == "--bench") {
        full
    } else {
        full / 100
    }
}

/// Realistic contact IDs: 7 to 8 digits, ascending, as an export from the CRM would list them.
const FIRST_ID: u64 = 1_000_001;

fn csv_input(ids: u64) -> Shared {
    let mut out = Vec::with_capacity(ids as usize * 9 + 3);
    out.extend_from_slice(b"id\n");
    for id in FIRST_ID..FIRST_ID + ids {
        writeln!(out, "{id}").expect("writing to a Vec cannot fail");
    }
    Shared(out.into())
}

fn jsonl_input(ids: u64) -> Shared {
    let mut out = Vec::with_capacity(ids as usize * 20);
    for id in FIRST_ID..FIRST_ID + ids {
        writeln!(out, "{{\"id\": {id}, \"name\": \"visitor\"}}")
            .expect("writing to a Vec cannot fail");
    }
    Shared(out.into())
}

fn options() -> ReadOptions {
    ReadOptions {
        default_block_till: Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
        ..ReadOptions::default()
    }
}

/// Reads the whole input; returns the sum of the IDs so nothing can be optimised away, and
/// panics on anything but a valid row (the inputs are all valid: a reject is a bug).
fn read_all(input: &Shared, format: Format, opts: &ReadOptions) -> u64 {
    let source = Source::from_reader("bench", Cursor::new(input.clone()), format, opts, Contact)
        .expect("the benchmark input opens");
    let mut sum = 0u64;
    for item in source {
        match item {
            Item::Row(row) => sum = sum.wrapping_add(row.value),
            other => panic!("benchmark input produced {other:?}"),
        }
    }
    sum
}

fn expected_sum(ids: u64) -> u64 {
    (FIRST_ID..FIRST_ID + ids).fold(0u64, u64::wrapping_add)
}

fn reader(c: &mut Criterion) {
    let opts = options();
    let mut group = c.benchmark_group("reader");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));

    let ids = ids_for(10_000_000);
    let csv = csv_input(ids);
    // One checked pass first: the benchmark must read every ID, not merely run fast.
    assert_eq!(read_all(&csv, Format::Csv, &opts), expected_sum(ids));
    group.throughput(Throughput::Bytes(csv.0.len() as u64));
    group.bench_function(format!("csv_{ids}_ids"), |b| {
        b.iter(|| black_box(read_all(&csv, Format::Csv, &opts)))
    });
    drop(csv);

    let ids = ids_for(1_000_000);
    let jsonl = jsonl_input(ids);
    assert_eq!(read_all(&jsonl, Format::Jsonl, &opts), expected_sum(ids));
    group.throughput(Throughput::Bytes(jsonl.0.len() as u64));
    group.bench_function(format!("jsonl_{ids}_ids"), |b| {
        b.iter(|| black_box(read_all(&jsonl, Format::Jsonl, &opts)))
    });
    group.finish();
}

fn dedupe(c: &mut Criterion) {
    let mut group = c.benchmark_group("dedupe");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let ids = ids_for(10_000_000);
    group.throughput(Throughput::Elements(ids));
    group.bench_function(format!("sequential_{ids}_ids"), |b| {
        b.iter(|| {
            let mut seen = Dedupe::<Contact>::new();
            for id in FIRST_ID..FIRST_ID + ids {
                black_box(seen.check(id));
            }
            seen.memory_bytes()
        })
    });
    group.finish();
}

criterion_group!(benches, reader, dedupe);
criterion_main!(benches);
