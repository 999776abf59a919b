//! Arbitrary bytes as a customer photo, decoded under small limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pressroom_fuzz::image(data);
});
