//! Notes: Pressroom's own notes are added, edited and deleted by id; the customer's note from
//! the store is not Pressroom's to change; ids are never given twice; a store update keeps
//! Pressroom's notes and their edits.

mod common;

use common::*;
use domain::*;

#[test]
fn pressroom_notes_get_increasing_ids_after_the_customers_note() {
    let mut o = in_app_order();
    assert_eq!(o.notes[0].id, 0, "the customer's note from the store");
    assert_eq!(o.add_note(t(1), "anna", "  Check the spelling  "), Ok(1));
    assert_eq!(o.add_note(t(2), "boris", "Looks fine"), Ok(2));
    assert_eq!(o.notes[1].text, "Check the spelling", "trimmed");
    assert_eq!(o.notes[1].author, "anna");
    assert!(
        !o.notes[1].customer_visible,
        "Pressroom's notes are internal"
    );
}

#[test]
fn edits_keep_the_note_and_say_when() {
    let mut o = in_app_order();
    let id = o.add_note(t(1), "anna", "Chek spelling").unwrap();
    assert_eq!(
        o.edit_note(id, "Check spelling", t(2)),
        Ok("Chek spelling".to_string())
    );
    let note = o.notes.iter().find(|n| n.id == id).unwrap();
    assert_eq!(
        (note.text.as_str(), note.at, note.edited_at),
        ("Check spelling", t(1), Some(t(2)))
    );
}

#[test]
fn what_cannot_be_changed_is_refused_and_nothing_changes() {
    let mut o = in_app_order();
    let id = o.add_note(t(1), "anna", "Keep me").unwrap();
    let before = o.clone();
    let long = "x".repeat(NOTE_MAX_CHARS + 1);
    let cases: Vec<(&str, Result<(), NoteError>)> = vec![
        ("empty", o.edit_note(id, "   ", t(2)).map(drop)),
        ("too long", o.edit_note(id, &long, t(2)).map(drop)),
        ("unknown", o.edit_note(99, "x", t(2)).map(drop)),
        ("the customer's", o.edit_note(0, "x", t(2)).map(drop)),
        ("delete the customer's", o.delete_note(0).map(drop)),
        ("delete unknown", o.delete_note(99).map(drop)),
        ("add empty", o.add_note(t(2), "anna", "").map(drop)),
    ];
    let want = [
        NoteError::Length,
        NoteError::Length,
        NoteError::NotFound(99),
        NoteError::FromStore,
        NoteError::FromStore,
        NoteError::NotFound(99),
        NoteError::Length,
    ];
    for ((what, got), want) in cases.into_iter().zip(want) {
        assert_eq!(got, Err(want), "{what}");
    }
    assert_eq!(o, before);
}

#[test]
fn a_deleted_notes_id_is_not_given_again() {
    let mut o = in_app_order();
    o.add_note(t(1), "anna", "one").unwrap();
    let two = o.add_note(t(2), "anna", "two").unwrap();
    let gone = o.delete_note(two).unwrap();
    assert_eq!(gone.text, "two");
    assert!(o.notes.iter().all(|n| n.id != two));
    assert_eq!(o.add_note(t(3), "anna", "three"), Ok(3));
}

#[test]
fn a_store_update_keeps_pressrooms_notes_and_edits() {
    let mut o = in_app_order();
    let id = o.add_note(t(1), "anna", "first").unwrap();
    o.edit_note(id, "edited", t(2)).unwrap();
    let mut incoming = in_app_order();
    incoming.modified_at = Some(t(5));
    o.apply_store_update(incoming, false, t(5));
    let ours: Vec<&str> = o
        .notes
        .iter()
        .filter(|n| n.id > 0)
        .map(|n| n.text.as_str())
        .collect();
    assert_eq!(ours, ["edited"]);
    assert_eq!(o.notes.iter().filter(|n| n.id == 0).count(), 1);
    assert_eq!(o.add_note(t(3), "anna", "next"), Ok(2));
}
