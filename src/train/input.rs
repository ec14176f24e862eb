//! The trainer's input: interaction logs and item tables as CSV (plain or gzipped) or Parquet (one
//! file, or a directory of part files as Spark, DataFusion and warehouses write them).
//!
//! Both readers stream: a row becomes a [`RawInteraction`] or a [`RawItem`] as it is read, so memory
//! holds the parsed rows, never the file's text. Every error names the file and the row.
//!
//! The schema, whatever the format (column names are matched without regard to case):
//!
//! | file | column | type |
//! |---|---|---|
//! | interactions | `user_id` | text or integer |
//! | interactions | `item_id` | text or integer |
//! | interactions | `timestamp` | seconds (integer or floating point), or a Parquet `TIMESTAMP` / `INT96` / `DATE` |
//! | interactions | `kind` (optional) | `view`, `cart` or `purchase` (and their synonyms); missing: purchase |
//! | items | `item_id` | text or integer |
//! | items | `title` (optional) | text |
//! | items | `category` (optional) | text; empty or null: none |
//!
//! `docs/data.md` has the recipe that writes these Parquet files from a raw event log with DataFusion
//! (or Ballista, or Spark SQL) when the log is larger than one machine.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};

use super::data::{build_with, Dataset, Dedupe, RawInteraction, RawItem};
use crate::model::Kind;

/// The file formats the trainer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row; `.csv.gz` is decompressed on the fly.
    Csv,
    /// Apache Parquet: a `.parquet` file, or a directory of them.
    Parquet,
}

impl Format {
    /// The format of `path`: a directory is read as Parquet parts, a file by its extension.
    pub fn of(path: &Path) -> Result<Format, String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
        if path.is_dir() || name.ends_with(".parquet") || name.ends_with(".parq") {
            Ok(Format::Parquet)
        } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
            Ok(Format::Csv)
        } else {
            Err(format!("{}: not a .csv, .csv.gz or .parquet file, nor a directory of Parquet parts", path.display()))
        }
    }
}

/// Finds `stem`'s file in `dir`: `stem.parquet` (a file or a directory of parts), a directory
/// `stem/` of Parquet parts, `stem.csv` or `stem.csv.gz`, in that order.
pub fn find_input(dir: &Path, stem: &str) -> Result<PathBuf, String> {
    let candidates = [format!("{stem}.parquet"), stem.to_string(), format!("{stem}.csv"), format!("{stem}.csv.gz")];
    for name in &candidates {
        let p = dir.join(name);
        if p.is_file() || (p.is_dir() && !parquet_parts(&p).map(|v| v.is_empty()).unwrap_or(true)) {
            return Ok(p);
        }
    }
    Err(format!("{}: none of {}", dir.display(), candidates.join(", ")))
}

/// Reads `dir`'s interactions and items (see [`find_input`]) and builds the dataset.
pub fn read_dataset(name: &str, dir: &Path, dedupe: Dedupe) -> Result<Dataset, String> {
    read_dataset_files(name, &find_input(dir, "interactions")?, &find_input(dir, "items")?, dedupe)
}

/// Reads an interactions file and an items file, each CSV or Parquet, and builds the dataset.
pub fn read_dataset_files(name: &str, interactions: &Path, items: &Path, dedupe: Dedupe) -> Result<Dataset, String> {
    let raw = read_interactions(interactions)?;
    let raw_items = read_items(items)?;
    build_with(name, &raw, &raw_items, dedupe)
}

/// Reads an interaction log (see the module docs for its columns).
pub fn read_interactions(path: &Path) -> Result<Vec<RawInteraction>, String> {
    let mut out = Vec::new();
    let cols = &["user_id", "item_id", "timestamp", "kind"];
    let mut push = |row: usize, v: &mut [Value]| -> Result<(), String> {
        let at = |e: String| format!("{}: row {row}: {e}", path.display());
        let user = v[0].id("user_id").map_err(at)?;
        let item = v[1].id("item_id").map_err(at)?;
        let time = v[2].seconds().map_err(at)?;
        let kind = match &v[3] {
            Value::Missing => Kind::Purchase,
            other => Kind::from_name(&other.text("kind").map_err(at)?).map_err(|e| at(e.to_string()))?,
        };
        out.push(RawInteraction { user, item, time, kind });
        Ok(())
    };
    match Format::of(path)? {
        Format::Csv => read_csv(path, cols, 3, &mut push)?,
        Format::Parquet => read_parquet(path, cols, 3, &mut push)?,
    }
    Ok(out)
}

/// Reads an items table (see the module docs for its columns).
pub fn read_items(path: &Path) -> Result<Vec<RawItem>, String> {
    let mut out = Vec::new();
    let cols = &["item_id", "title", "category"];
    let mut push = |row: usize, v: &mut [Value]| -> Result<(), String> {
        let at = |e: String| format!("{}: row {row}: {e}", path.display());
        let id = v[0].id("item_id").map_err(at)?;
        let title = match &v[1] {
            Value::Missing | Value::Null => String::new(),
            t => t.text("title").map_err(at)?,
        };
        let category = match &v[2] {
            Value::Missing | Value::Null => None,
            c => Some(c.text("category").map_err(at)?).filter(|c| !c.is_empty()),
        };
        out.push(RawItem { id, title, category });
        Ok(())
    };
    match Format::of(path)? {
        Format::Csv => read_csv(path, cols, 1, &mut push)?,
        Format::Parquet => read_parquet(path, cols, 1, &mut push)?,
    }
    Ok(out)
}

/// One cell, as either reader found it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// The column is not in the file (an optional column).
    Missing,
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    /// Seconds since the Unix epoch, from a Parquet timestamp or date.
    Seconds(f64),
}

impl Value {
    fn text(&self, col: &str) -> Result<String, String> {
        match self {
            Value::Text(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Missing | Value::Null => Err(format!("{col} is null")),
            other => Err(format!("{col}: expected text, got {other:?}")),
        }
    }

    /// An id: trimmed text, or an integer's decimal digits (so `42` in Parquet is `"42"` in CSV).
    fn id(&self, col: &str) -> Result<String, String> {
        let s = self.text(col)?;
        let s = s.trim();
        if s.is_empty() {
            return Err(format!("{col} is empty"));
        }
        Ok(s.to_string())
    }

    fn seconds(&self) -> Result<f64, String> {
        let t = match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) | Value::Seconds(f) => *f,
            Value::Text(s) => s.trim().parse().map_err(|_| format!("bad timestamp {s:?} (seconds expected)"))?,
            Value::Missing | Value::Null => return Err("timestamp is null".into()),
        };
        if !t.is_finite() {
            return Err(format!("timestamp {t} is not finite"));
        }
        Ok(t)
    }
}

/// Positions of `cols` in `header` (case-insensitive); the first `required` must be there.
fn locate(path: &Path, header: &[String], cols: &[&str], required: usize) -> Result<Vec<Option<usize>>, String> {
    let found: Vec<Option<usize>> =
        cols.iter().map(|c| header.iter().position(|h| h.trim().eq_ignore_ascii_case(c))).collect();
    for (c, f) in cols.iter().zip(&found).take(required) {
        if f.is_none() {
            return Err(format!("{}: no {c:?} column (columns: {})", path.display(), header.join(", ")));
        }
    }
    Ok(found)
}

type Sink<'a> = dyn FnMut(usize, &mut [Value]) -> Result<(), String> + 'a;

/// Streams a CSV file's rows into `sink` (rows numbered as lines, the header being line 1).
fn read_csv(path: &Path, cols: &[&str], required: usize, sink: &mut Sink) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let input: Box<dyn Read> = if path.to_string_lossy().to_ascii_lowercase().ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(BufReader::with_capacity(1 << 20, file)))
    } else {
        Box::new(file)
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).buffer_capacity(1 << 20).from_reader(input);
    let header: Vec<String> = match reader.headers() {
        Ok(h) if !(h.is_empty() || h.len() == 1 && h[0].is_empty()) => h.iter().map(str::to_string).collect(),
        Ok(_) => return Err(format!("{}: empty file", path.display())),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let at = locate(path, &header, cols, required)?;
    let mut record = csv::StringRecord::new();
    let mut values = vec![Value::Missing; cols.len()];
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].trim().is_empty() {
            continue; // a blank line
        }
        for (v, a) in values.iter_mut().zip(&at) {
            *v = match a {
                None => Value::Missing,
                Some(i) => Value::Text(record[*i].to_string()),
            };
        }
        sink(line, &mut values)?;
    }
}

/// The `.parquet` files of a directory of parts, sorted by name (hidden files and `_SUCCESS`
/// markers skipped).
fn parquet_parts(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut parts = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if p.is_file() && !name.starts_with(['.', '_']) && name.to_ascii_lowercase().ends_with(".parquet") {
            parts.push(p);
        }
    }
    parts.sort();
    Ok(parts)
}

/// Streams a Parquet file's (or a directory of parts') rows into `sink`, rows numbered from 1
/// across the parts. Columns are read a row group at a time through the typed column readers
/// (not the record API, which panics on some damaged files).
fn read_parquet(path: &Path, cols: &[&str], required: usize, sink: &mut Sink) -> Result<(), String> {
    let parts = if path.is_dir() {
        let parts = parquet_parts(path)?;
        if parts.is_empty() {
            return Err(format!("{}: a directory without .parquet files", path.display()));
        }
        parts
    } else {
        vec![path.to_path_buf()]
    };
    let mut row = 0usize;
    let mut values = vec![Value::Missing; cols.len()];
    for part in &parts {
        // The parquet crate (59.3) panics on some damaged pages (an assertion in its bit
        // unpacking) instead of returning an error: the panic becomes this file's error. The
        // trainer's profile unwinds; a build with `panic = "abort"` would stop there instead.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_parquet_part(part, cols, required, &mut row, &mut values, sink)
        }));
        match read {
            Ok(r) => r?,
            Err(p) => {
                let msg =
                    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
                return Err(format!(
                    "{}: damaged Parquet data (the decoder failed: {})",
                    part.display(),
                    msg.unwrap_or_else(|| "no message".into())
                ));
            }
        }
    }
    Ok(())
}

fn read_parquet_part(
    part: &Path,
    cols: &[&str],
    required: usize,
    row: &mut usize,
    values: &mut [Value],
    sink: &mut Sink,
) -> Result<(), String> {
    let err = |e: parquet::errors::ParquetError| format!("{}: {e}", part.display());
    let file = File::open(part).map_err(|e| format!("{}: {e}", part.display()))?;
    let reader = SerializedFileReader::new(file).map_err(err)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let fields = schema.root_schema().get_fields();
    let names: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    let at = locate(part, &names, cols, required)?;
    // Only flat columns are read; each is found among the leaf columns by its path.
    if at.iter().flatten().any(|&i| !fields[i].is_primitive()) {
        return Err(format!("{}: a wanted column is nested; flat columns are expected", part.display()));
    }
    let leaf = |i: usize| (0..schema.num_columns()).find(|&c| schema.column(c).path().parts() == [names[i].clone()]);
    let leaves: Vec<Option<usize>> = at.iter().map(|a| a.and_then(leaf)).collect();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(err)?;
        let n =
            usize::try_from(group.metadata().num_rows()).map_err(|_| format!("{}: bad row count", part.display()))?;
        let mut columns: Vec<Option<Vec<Value>>> = Vec::with_capacity(cols.len());
        for l in &leaves {
            columns.push(match l {
                None => None,
                Some(c) => Some(read_column(group.as_ref(), *c, n).map_err(|e| {
                    format!("{}: row group {g}, column {:?}: {e}", part.display(), schema.column(*c).name())
                })?),
            });
        }
        for r in 0..n {
            *row += 1;
            // Each cell is handed over once: moved out of its column, not copied.
            for (v, c) in values.iter_mut().zip(columns.iter_mut()) {
                *v = match c {
                    None => Value::Missing,
                    Some(c) => std::mem::replace(&mut c[r], Value::Null),
                };
            }
            sink(*row, values)?;
        }
    }
    Ok(())
}

/// Reads `n` values of leaf column `c` of a row group, nulls included, converted by the column's
/// logical type (timestamps and dates to seconds).
fn read_column(group: &dyn parquet::file::reader::RowGroupReader, c: usize, n: usize) -> Result<Vec<Value>, String> {
    use parquet::basic::{ConvertedType, LogicalType, TimeUnit};
    use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
    use parquet::data_type::DataType;

    let descr = group.metadata().column(c).column_descr_ptr();
    if descr.max_rep_level() > 0 {
        return Err("a repeated column; flat columns are expected".into());
    }
    let max_def = descr.max_def_level();
    let logical = descr.logical_type_ref().cloned();
    let converted = descr.converted_type();
    let scale = match (&logical, converted) {
        (Some(LogicalType::Timestamp(t)), _) => match t.unit {
            TimeUnit::MILLIS => Some(1e-3),
            TimeUnit::MICROS => Some(1e-6),
            TimeUnit::NANOS => Some(1e-9),
        },
        (_, ConvertedType::TIMESTAMP_MILLIS) => Some(1e-3),
        (_, ConvertedType::TIMESTAMP_MICROS) => Some(1e-6),
        (Some(LogicalType::Date), _) | (_, ConvertedType::DATE) => Some(86_400.0),
        _ => None,
    };
    let int = |i: i64| match scale {
        Some(s) => Value::Seconds(i as f64 * s),
        None => Value::Int(i),
    };

    // Reads every record of the chunk: the non-null values and, for an optional column, the
    // definition levels that place them.
    fn all<T: DataType>(mut r: ColumnReaderImpl<T>, n: usize, optional: bool) -> Result<(Vec<T::T>, Vec<i16>), String>
    where
        T::T: Default + Clone,
    {
        let (mut vals, mut defs) = (Vec::with_capacity(n), Vec::with_capacity(if optional { n } else { 0 }));
        let mut got = 0;
        while got < n {
            let (records, _, _) = r
                .read_records(n - got, if optional { Some(&mut defs) } else { None }, None, &mut vals)
                .map_err(|e| e.to_string())?;
            if records == 0 {
                return Err(format!("{got} of {n} rows present"));
            }
            got += records;
        }
        Ok((vals, defs))
    }
    let optional = max_def > 0;
    let reader = group.get_column_reader(c).map_err(|e| e.to_string())?;
    let spread = |vals: Vec<Value>, defs: Vec<i16>| -> Result<Vec<Value>, String> {
        if !optional {
            return if vals.len() == n { Ok(vals) } else { Err(format!("{} values for {n} rows", vals.len())) };
        }
        if defs.len() != n || defs.iter().filter(|&&d| d == max_def).count() != vals.len() {
            return Err("definition levels do not match the values".into());
        }
        let mut it = vals.into_iter();
        Ok(defs.iter().map(|&d| if d == max_def { it.next().expect("counted") } else { Value::Null }).collect())
    };
    match reader {
        ColumnReader::Int32ColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            spread(v.into_iter().map(|x| int(x as i64)).collect(), d)
        }
        ColumnReader::Int64ColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            spread(v.into_iter().map(int).collect(), d)
        }
        ColumnReader::Int96ColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            // Julian day and nanoseconds of the day, computed in f64 (no overflow on odd values).
            let secs = |x: &parquet::data_type::Int96| {
                let w = x.data();
                let nanos = (w[1] as u64) << 32 | w[0] as u64;
                (w[2] as f64 - 2_440_588.0) * 86_400.0 + nanos as f64 / 1e9
            };
            spread(v.iter().map(|x| Value::Seconds(secs(x))).collect(), d)
        }
        ColumnReader::FloatColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            spread(v.into_iter().map(|x| Value::Float(x as f64)).collect(), d)
        }
        ColumnReader::DoubleColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            spread(v.into_iter().map(Value::Float).collect(), d)
        }
        ColumnReader::ByteArrayColumnReader(r) => {
            let (v, d) = all(r, n, optional)?;
            let text = v
                .into_iter()
                .map(|b| {
                    b.as_utf8().map(|s| Value::Text(s.to_string())).map_err(|_| "a value is not UTF-8".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            spread(text, d)
        }
        _ => Err(format!("unsupported physical type {:?}", descr.physical_type())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("localrec-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn csv_quoting_crlf_blank_lines_and_optional_columns() {
        let d = tmp("csv");
        let p = d.join("items.csv");
        std::fs::write(&p, "Item_ID,title\r\n1,\"A, \"\"B\"\"\"\r\n\r\n 2 ,plain\r\n").unwrap();
        let items = read_items(&p).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].id.as_str(), items[0].title.as_str(), &items[0].category), ("1", "A, \"B\"", &None));
        assert_eq!(items[1].id, "2");
        let p = d.join("interactions.csv");
        std::fs::write(&p, "user_id,item_id,timestamp\nu1,7,12.5\n").unwrap();
        let rows = read_interactions(&p).unwrap();
        assert_eq!((rows[0].user.as_str(), rows[0].item.as_str(), rows[0].time), ("u1", "7", 12.5));
        assert_eq!(rows[0].kind, Kind::Purchase);
    }

    #[test]
    fn csv_errors_name_the_file_and_the_line() {
        let d = tmp("csv-errors");
        let p = d.join("interactions.csv");
        let cases = [
            ("user_id,item_id\n1,2\n", "no \"timestamp\" column"),
            ("user_id,item_id,timestamp\n1,2,3\n1,2,x\n", "row 3: bad timestamp \"x\""),
            ("user_id,item_id,timestamp\n1,2,3\n1,2\n", "found record with 2 fields"),
            ("user_id,item_id,timestamp,kind\n1,2,3,teleport\n", "row 2:"),
            ("user_id,item_id,timestamp\n1,,3\n", "item_id is empty"),
            ("user_id,item_id,timestamp\n1,2,NaN\n", "not finite"),
            ("", "empty file"),
        ];
        for (text, want) in cases {
            std::fs::write(&p, text).unwrap();
            let e = read_interactions(&p).unwrap_err();
            assert!(e.contains(want) && e.contains("interactions.csv"), "{text:?}: {e}");
        }
        assert!(read_interactions(&d.join("missing.csv")).is_err());
        assert!(Format::of(&d.join("x.json")).is_err());
    }

    /// Writes an interactions Parquet file the way a warehouse would: integer user ids, text item
    /// ids, a microsecond TIMESTAMP and an optional kind with a null.
    fn write_parquet(path: &Path, rows: &[(i64, &str, i64, Option<&str>)]) {
        let schema = parse_message_type(
            "message spark_schema {
               OPTIONAL INT64 user_id;
               OPTIONAL BYTE_ARRAY item_id (UTF8);
               OPTIONAL INT64 timestamp (TIMESTAMP(MICROS,true));
               OPTIONAL BYTE_ARRAY kind (UTF8);
               OPTIONAL DOUBLE price;
             }",
        )
        .unwrap();
        let props = Arc::new(WriterProperties::builder().set_max_row_group_row_count(Some(2)).build());
        let mut w = SerializedFileWriter::new(File::create(path).unwrap(), Arc::new(schema), props).unwrap();
        for chunk in rows.chunks(2) {
            let mut g = w.next_row_group().unwrap();
            let all = vec![1i16; chunk.len()];
            let mut c = g.next_column().unwrap().unwrap();
            let users: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            c.typed::<Int64Type>().write_batch(&users, Some(&all), None).unwrap();
            c.close().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            let items: Vec<ByteArray> = chunk.iter().map(|r| ByteArray::from(r.1)).collect();
            c.typed::<ByteArrayType>().write_batch(&items, Some(&all), None).unwrap();
            c.close().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            let times: Vec<i64> = chunk.iter().map(|r| r.2).collect();
            c.typed::<Int64Type>().write_batch(&times, Some(&all), None).unwrap();
            c.close().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            let kinds: Vec<ByteArray> = chunk.iter().filter_map(|r| r.3.map(ByteArray::from)).collect();
            let defs: Vec<i16> = chunk.iter().map(|r| r.3.is_some() as i16).collect();
            c.typed::<ByteArrayType>().write_batch(&kinds, Some(&defs), None).unwrap();
            c.close().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            c.typed::<DoubleType>().write_batch(&vec![1.5; chunk.len()], Some(&all), None).unwrap();
            c.close().unwrap();
            g.close().unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn parquet_file_and_directory_of_parts() {
        let d = tmp("parquet");
        let rows = [(7, "a", 1_500_000, Some("view")), (7, "b", 2_000_000, Some("cart")), (8, "a", 3_250_000, None)];
        let file = d.join("interactions.parquet");
        write_parquet(&file, &rows);
        // A null kind is an error (a missing kind column would mean purchase).
        let e = read_interactions(&file).unwrap_err();
        assert!(e.contains("row 3: kind is null"), "{e}");
        let rows =
            [(7, "a", 1_500_000, Some("view")), (7, "b", 2_000_000, Some("cart")), (8, "a", 3_250_000, Some("buy"))];
        write_parquet(&file, &rows);
        let got = read_interactions(&file).unwrap();
        let want = [("7", "a", 1.5, Kind::View), ("7", "b", 2.0, Kind::Cart), ("8", "a", 3.25, Kind::Purchase)];
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.user.as_str(), g.item.as_str(), g.time, g.kind), w);
        }
        // Spark's layout: a directory of parts, a _SUCCESS marker, read in name order.
        let parts = d.join("interactions");
        std::fs::create_dir_all(&parts).unwrap();
        write_parquet(&parts.join("part-00001.parquet"), &rows[2..]);
        write_parquet(&parts.join("part-00000.parquet"), &rows[..2]);
        std::fs::write(parts.join("_SUCCESS"), "").unwrap();
        let from_parts = read_interactions(&parts).unwrap();
        assert_eq!(
            from_parts.iter().map(|r| (r.user.clone(), r.item.clone(), r.time)).collect::<Vec<_>>(),
            got.iter().map(|r| (r.user.clone(), r.item.clone(), r.time)).collect::<Vec<_>>()
        );
        assert_eq!(find_input(&d, "interactions").unwrap(), file);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(find_input(&d, "interactions").unwrap(), parts);
    }

    #[test]
    fn damaged_parquet_is_an_error_not_a_panic() {
        let d = tmp("parquet-bad");
        let file = d.join("interactions.parquet");
        write_parquet(&file, &[(1, "a", 0, Some("view")), (2, "b", 1, Some("view")), (3, "c", 2, Some("view"))]);
        let bytes = std::fs::read(&file).unwrap();
        for cut in [0, 4, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&file, &bytes[..cut]).unwrap();
            let e = read_interactions(&file).unwrap_err();
            assert!(e.contains("interactions.parquet"), "cut at {cut}: {e}");
        }
        // Flipped bytes inside the data pages: an error or (where the page has no checksum) other
        // values, never a panic.
        for at in (4..bytes.len() - 8).step_by(3) {
            let mut b = bytes.clone();
            b[at] ^= 0x5a;
            std::fs::write(&file, &b).unwrap();
            let _ = read_interactions(&file);
        }
        // A Parquet file without a wanted column.
        std::fs::write(&file, &bytes).unwrap();
        let e = read_parquet(&file, &["user_id", "rating"], 2, &mut |_, _| Ok(())).unwrap_err();
        assert!(e.contains("no \"rating\" column"), "{e}");
    }
}
