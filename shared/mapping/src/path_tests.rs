//! Tests of field paths: parsing, reading, writing, rewriting and leaves.

use super::*;
use serde_json::json;

fn p(s: &str) -> FieldPath {
    FieldPath::parse(s).unwrap()
}

#[test]
fn parses_valid_paths() {
    assert_eq!(p("a").segments, vec![Segment::Key("a".into())]);
    assert_eq!(
        p("lines[].item_id").segments,
        vec![
            Segment::Each("lines".into()),
            Segment::Key("item_id".into())
        ]
    );
    assert_eq!(
        p("phones[2].n").segments,
        vec![Segment::Index("phones".into(), 2), Segment::Key("n".into())]
    );
    assert_eq!(p("a.b").as_str(), "a.b");
}

#[test]
fn rejects_malformed_paths() {
    for bad in [
        "", " ", "a..b", ".a", "a.", "[]", "[].x", "a[x]", "a[", "a]", "a[][]", "a[-1]", "a[]x",
        " a",
    ] {
        assert!(FieldPath::parse(bad).is_err(), "{bad:?} should be rejected");
    }
    let err = FieldPath::parse("a..b").unwrap_err().to_string();
    assert!(err.contains("a..b") && err.contains("empty"), "{err}");
}

#[test]
fn get_all_fans_out_and_indexes() {
    let rec = json!({"a": {"b": [ {"c": 1}, {"c": null}, {"d": 3} ]}, "s": "x"});
    assert_eq!(p("a.b[].c").get_all(&rec), vec![&json!(1), &Value::Null]);
    assert_eq!(p("a.b[2].d").get_all(&rec), vec![&json!(3)]);
    assert!(p("a.b[9].d").get_all(&rec).is_empty());
    assert!(p("s.x").get_all(&rec).is_empty());
    assert!(p("s[]").get_all(&rec).is_empty());
    assert!(p("missing").get_all(&rec).is_empty());
    let leaves = p("a.b[].c").leaves(&rec);
    assert_eq!(leaves.len(), 3);
    assert_eq!(leaves[2], (vec![2], None));
}

#[test]
fn write_creates_intermediates() {
    let mut v = json!({});
    p("a.b.c").write(&mut v, &[], json!(1)).unwrap();
    p("l[].x").write(&mut v, &[1], json!("y")).unwrap();
    p("m[0].z").write(&mut v, &[], json!(true)).unwrap();
    assert_eq!(
        v,
        json!({"a": {"b": {"c": 1}}, "l": [null, {"x": "y"}], "m": [{"z": true}]})
    );
    let err = p("a.b.c.d").write(&mut v, &[], json!(2)).unwrap_err();
    assert_eq!(err.at, "a.b.c");
    assert_eq!(err.found, "a number");
}

#[test]
fn rewrite_replaces_and_removes() {
    let mut v = json!({"ids": ["a", "b", "c"], "o": {"k": 1, "j": 2}, "arr": [1, 2]});
    p("ids[]")
        .rewrite(&mut v, |x| -> Result<_, ()> {
            Ok((x != "b").then(|| json!(format!("{}!", x.as_str().unwrap()))))
        })
        .unwrap();
    p("o.k")
        .rewrite(&mut v, |_| -> Result<_, ()> { Ok(None) })
        .unwrap();
    p("arr[1]")
        .rewrite(&mut v, |_| -> Result<_, ()> { Ok(Some(json!(20))) })
        .unwrap();
    p("nope.x")
        .rewrite(&mut v, |_| -> Result<_, ()> { panic!("not visited") })
        .unwrap();
    assert_eq!(
        v,
        json!({"ids": ["a!", "c!"], "o": {"j": 2}, "arr": [1, 20]})
    );
    let err = p("o.j").rewrite(&mut v, |_| Err("boom")).unwrap_err();
    assert_eq!(err, "boom");
}

#[test]
fn overlap_and_join() {
    assert!(p("a.b").overlaps(&p("a")));
    assert!(p("a").overlaps(&p("a.b")));
    assert!(!p("a.b").overlaps(&p("a.c")));
    assert!(p("l[].x").overlaps(&p("l")));
    assert!(!p("l[0].x").overlaps(&p("l[1].x")));
    assert!(p("l[].x").is_strictly_under(&p("l")));
    assert!(!p("l").is_strictly_under(&p("l")));
    let j = p("lines").join_elements(&p("item_id"));
    assert_eq!(j, p("lines[].item_id"));
    assert_eq!(j.as_str(), "lines[].item_id");
}
