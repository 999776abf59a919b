//! SHA-256 for the render record. ring's assembly (AVX2/BMI2, or SHA-NI where the CPU has it)
//! is about twice as fast as a portable implementation on CPUs without SHA-NI, and hashing the
//! template, the photo and the print file is otherwise a fifth of a cold render's CPU time.

use ring::digest::{Context, SHA256, digest};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

/// A running SHA-256.
pub struct Sha256(Context);

impl Default for Sha256 {
    fn default() -> Self {
        Sha256(Context::new(&SHA256))
    }
}

impl Sha256 {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finish().as_ref())
    }
}
