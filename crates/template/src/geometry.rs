//! Lengths and rectangles: the print area (trim, bleed, safe margin) in manifest units and in
//! print pixels.

use crate::Rgba;
use serde::{Deserialize, Serialize};

/// Units of length used in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Inches.
    In,
    /// Millimetres.
    Mm,
    /// Print pixels at the print area's DPI.
    Px,
}

/// The printed area: trim size plus bleed on every side, at a DPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintArea {
    /// Trim width in `unit`.
    pub width: f64,
    /// Trim height in `unit`.
    pub height: f64,
    pub unit: Unit,
    pub dpi: u32,
    /// Extra area on every side that is cut off, in `unit`. Layer boxes are measured from the
    /// top-left corner of the bleed, i.e. of the whole canvas.
    pub bleed: f64,
    /// Distance inside the trim line that important content should keep, in `unit`.
    pub safe_margin: f64,
    /// Colour under every layer; transparent when absent.
    pub background: Option<Rgba>,
}

impl PrintArea {
    /// Print pixels per manifest unit.
    pub fn px_per_unit(&self) -> f64 {
        match self.unit {
            Unit::In => self.dpi as f64,
            Unit::Mm => self.dpi as f64 / 25.4,
            Unit::Px => 1.0,
        }
    }

    /// Converts a length in manifest units to print pixels.
    pub fn px(&self, v: f64) -> f64 {
        v * self.px_per_unit()
    }

    /// The whole canvas (trim plus bleed) in print pixels, rounded.
    pub fn canvas_px(&self) -> (u32, u32) {
        let w = self.px(self.width + 2.0 * self.bleed).round();
        let h = self.px(self.height + 2.0 * self.bleed).round();
        (w as u32, h as u32)
    }

    /// The trim rectangle in print pixels.
    pub fn trim_px(&self) -> Rect {
        let b = self.px(self.bleed);
        Rect::new(b, b, self.px(self.width), self.px(self.height))
    }

    /// The safe rectangle in print pixels.
    pub fn safe_px(&self) -> Rect {
        self.trim_px().inset(self.px(self.safe_margin))
    }
}

/// An axis-aligned rectangle (x, y, width, height).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Rect { x, y, w, h }
    }
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn inset(&self, d: f64) -> Rect {
        Rect::new(
            self.x + d,
            self.y + d,
            (self.w - 2.0 * d).max(0.0),
            (self.h - 2.0 * d).max(0.0),
        )
    }
    pub fn scale(&self, s: f64) -> Rect {
        Rect::new(self.x * s, self.y * s, self.w * s, self.h * s)
    }
    /// True when `other` lies entirely inside `self` (with a small tolerance for rounding).
    pub fn contains(&self, other: &Rect) -> bool {
        const EPS: f64 = 0.5;
        other.x >= self.x - EPS
            && other.y >= self.y - EPS
            && other.right() <= self.right() + EPS
            && other.bottom() <= self.bottom() + EPS
    }
    /// The smallest rectangle holding both.
    pub fn union(&self, o: &Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect::new(
            x,
            y,
            self.right().max(o.right()) - x,
            self.bottom().max(o.bottom()) - y,
        )
    }
}
