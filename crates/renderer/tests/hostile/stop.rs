//! The caller bounds every render in time through `should_stop`: when it says stop, at any of
//! the renderer's checkpoints, the render ends with `RenderError::Stopped` (retryable).

use crate::common::{TempTemplate, never, photo, renderer};
use renderer::{Input, RenderError, Scale};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Photo, text, fill and SVG layers: every kind of preparation the render does.
const TEMPLATE: &str = r##"
id = "stop"
[print_area]
width = 3
height = 4
unit = "in"

[[fields]]
id = "photo"
kind = "photo"

[[fields]]
id = "name"
kind = "text"

[[layers]]
kind = "fill"
color = "#FFEEDD"

[[layers]]
kind = "svg"
file = "art.svg"

[[layers]]
kind = "photo"
field = "photo"
box = [0.5, 0.5, 2, 2]

[[layers]]
kind = "text"
field = "name"
box = [0.2, 3, 2.6, 0.8]
"##;

fn setup() -> (TempTemplate, Input) {
    let t = TempTemplate::new(TEMPLATE);
    t.write("art.svg", br#"<svg xmlns="http://www.w3.org/2000/svg" width="30" height="40"><circle cx="15" cy="20" r="10"/></svg>"#);
    let mut input = Input::default();
    input.values.insert("name".into(), "Ann".into());
    input.values.insert("photo".into(), "p.jpg".into());
    input
        .photos
        .insert("photo".into(), Arc::new(photo("baseline.jpg")));
    (t, input)
}

#[test]
fn should_stop_true_makes_render_return_stopped() {
    let (t, input) = setup();
    let r = renderer();
    let tpl = r.load_template(&t.dir()).expect("loads");
    assert!(
        r.render(&tpl, &input, Scale::Dpi(30.0), &never).is_ok(),
        "renders when not stopped"
    );

    let err = r
        .render(&tpl, &input, Scale::Dpi(30.0), &|| true)
        .err()
        .expect("stopped");
    assert!(matches!(err, RenderError::Stopped), "{err:?}");
    assert!(err.is_retryable() && !err.is_input_error());
    assert!(err.to_string().contains("stopped"), "{err}");
}

#[test]
fn every_checkpoint_honours_should_stop() {
    let (t, input) = setup();
    let r = renderer();
    let tpl = r.load_template(&t.dir()).expect("loads");

    // How often a full render asks.
    let asked = AtomicUsize::new(0);
    let counting = || {
        asked.fetch_add(1, Ordering::SeqCst);
        false
    };
    r.render(&tpl, &input, Scale::Dpi(30.0), &counting)
        .expect("renders");
    let total = asked.load(Ordering::SeqCst);
    // Before preparing, once per layer while preparing, before compositing, at the end.
    assert!(total >= 4, "should_stop was polled only {total} times");

    // Saying stop at the n-th question, for every n, stops the render.
    for n in 1..=total {
        let asked = AtomicUsize::new(0);
        let stop_at_n = || asked.fetch_add(1, Ordering::SeqCst) + 1 >= n;
        match r.render(&tpl, &input, Scale::Dpi(30.0), &stop_at_n) {
            Err(RenderError::Stopped) => {}
            Err(e) => panic!("stop at question {n} of {total}: {e}"),
            Ok(_) => panic!("stop at question {n} of {total}: the render finished anyway"),
        }
    }
}
