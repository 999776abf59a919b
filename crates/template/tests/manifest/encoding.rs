//! Text as editors save it: a UTF-8 byte-order mark (Windows Notepad writes one) is not part of
//! the manifest.

use template::Manifest;

#[test]
fn a_manifest_with_a_byte_order_mark_parses_like_one_without() {
    let plain = include_str!("good.toml");
    let with_bom = format!("\u{feff}{plain}");
    let a = Manifest::parse(plain, "template.toml").expect("plain parses");
    let b = Manifest::parse(&with_bom, "template.toml").expect("with a BOM parses");
    assert_eq!(a, b);
}

#[test]
fn errors_after_a_byte_order_mark_keep_their_line_and_column() {
    let text = "\u{feff}id = \"x\"\nnmae = 1\n";
    let err = Manifest::parse(text, "template.toml").expect_err("refused");
    assert_eq!(err.location, "line 2, column 1", "{err}");
}
