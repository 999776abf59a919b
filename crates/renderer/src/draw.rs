//! Compositing prepared layers onto the canvas, bottom to top.

use crate::{
    RenderError, composite, composite::Target, prepare::Prepared, prepare::px_rect, svg, text,
};
use resvg::tiny_skia;

/// The whole canvas as a compositing target.
fn target(canvas: &mut tiny_skia::Pixmap) -> Target<'_> {
    let (width, height) = (canvas.width(), canvas.height());
    Target {
        data: canvas.data_mut(),
        width,
        height,
    }
}

pub(crate) fn draw(
    canvas: &mut tiny_skia::Pixmap,
    p: &Prepared,
    template_id: &str,
) -> Result<(), RenderError> {
    match p {
        Prepared::Skip | Prepared::Streamed => {}
        Prepared::Image {
            rgba,
            w: iw,
            h: ih,
            x,
            y,
            opacity,
        } => {
            let mut t = target(canvas);
            composite::over_rgba(&mut t, rgba, *iw, *ih, *x, *y, *opacity);
        }
        Prepared::Photo {
            rgb,
            mask,
            w: iw,
            h: ih,
            x,
            y,
            opacity,
        } => {
            let mut t = target(canvas);
            composite::over_rgb_masked(&mut t, rgb, *iw, *ih, mask.as_deref(), *x, *y, *opacity);
        }
        Prepared::Svg {
            tree,
            file,
            rect,
            opacity,
        } => {
            let err = |reason| RenderError::Asset {
                template: template_id.to_string(),
                file: file.clone(),
                reason,
            };
            let tr = svg::fit_transform(tree, rect.x, rect.y, rect.w, rect.h);
            if *opacity == 255 {
                svg::draw(tree, tr, &mut canvas.as_mut()).map_err(err)?;
            } else {
                let (x, y, lw, lh) = px_rect(rect);
                let mut pm = tiny_skia::Pixmap::new(lw, lh)
                    .ok_or_else(|| RenderError::Size(format!("{lw} x {lh}")))?;
                let tr =
                    svg::fit_transform(tree, rect.x - x as f64, rect.y - y as f64, rect.w, rect.h);
                svg::draw(tree, tr, &mut pm.as_mut()).map_err(err)?;
                let mut t = target(canvas);
                composite::over_rgba(&mut t, pm.data(), lw, lh, x, y, *opacity);
            }
        }
        Prepared::Fill {
            color,
            rect,
            radius,
        } => {
            let Some(r) = tiny_skia::Rect::from_xywh(
                rect.x as f32,
                rect.y as f32,
                rect.w as f32,
                rect.h as f32,
            ) else {
                return Ok(());
            };
            if let Some(path) = composite::rounded_rect(r, *radius as f32) {
                let mut paint = tiny_skia::Paint::default();
                paint.set_color_rgba8(color.r, color.g, color.b, color.a);
                paint.anti_alias = true;
                canvas.fill_path(
                    &path,
                    &paint,
                    tiny_skia::FillRule::Winding,
                    tiny_skia::Transform::identity(),
                    None,
                );
            }
        }
        Prepared::Text(laid) => {
            let mut t = target(canvas);
            text::draw(&mut t, laid);
        }
    }
    Ok(())
}
