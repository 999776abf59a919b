//! Colours as designers write them: `#RGB`, `#RRGGBB` or `#RRGGBBAA`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A straight-alpha sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    pub const WHITE: Rgba = Rgba::rgb(255, 255, 255);
    pub const BLACK: Rgba = Rgba::rgb(0, 0, 0);
    pub const TRANSPARENT: Rgba = Rgba {
        r: 0,
        g: 0,
        b: 0,
        a: 0,
    };

    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Rgba { r, g, b, a: 255 }
    }
}

impl FromStr for Rgba {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a colour; write #RGB, #RRGGBB or #RRGGBBAA");
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let nibble = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).map(|v| v * 17);
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16);
        let parsed = match hex.len() {
            3 => (nibble(0), nibble(1), nibble(2), Ok(255)),
            6 => (byte(0), byte(2), byte(4), Ok(255)),
            8 => (byte(0), byte(2), byte(4), byte(6)),
            _ => return Err(bad()),
        };
        match parsed {
            (Ok(r), Ok(g), Ok(b), Ok(a)) => Ok(Rgba { r, g, b, a }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Rgba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02X}{:02X}{:02X}", self.r, self.g, self.b)?;
        if self.a != 255 {
            write!(f, "{:02X}", self.a)?;
        }
        Ok(())
    }
}

impl Serialize for Rgba {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rgba {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_hex_forms_and_rejects_the_rest() {
        assert_eq!("#1B2A49".parse(), Ok(Rgba::rgb(0x1B, 0x2A, 0x49)));
        assert_eq!("#fff".parse(), Ok(Rgba::WHITE));
        assert_eq!(
            "#00000080".parse(),
            Ok(Rgba {
                r: 0,
                g: 0,
                b: 0,
                a: 128
            })
        );
        for bad in ["1B2A49", "#12345", "#GGGGGG", "", "#", "#ééé"] {
            assert!(bad.parse::<Rgba>().is_err(), "{bad} should be rejected");
        }
        assert_eq!(Rgba::rgb(0x1B, 0x2A, 0x49).to_string(), "#1B2A49");
    }
}
