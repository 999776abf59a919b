//! Decoded and fitted images, kept between renders when the renderer caches (the warm worker and
//! the editor's live preview) and made afresh otherwise.

use crate::{
    RenderError, Renderer, Template, image_fit::Placed, image_fit::fit_image, image_io,
    image_io::Decoded,
};
use std::sync::Arc;
use template::Fit;

impl Renderer {
    /// A template image decoded at its own size (cached when the renderer caches).
    pub(crate) fn decoded_asset(
        &self,
        t: &Template,
        file: &str,
    ) -> Result<Arc<Decoded>, RenderError> {
        let key = (t.dir.display().to_string(), file.to_string());
        if let Some(c) = &self.cache
            && let Some(d) = c
                .decoded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
        {
            return Ok(d.clone());
        }
        let bytes = t
            .files
            .get(file)
            .ok_or_else(|| t.asset_err(file, "not loaded"))?;
        let d = Arc::new(image_io::decode(bytes, &self.limits).map_err(|e| t.asset_err(file, e))?);
        if let Some(c) = &self.cache {
            c.decoded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, d.clone());
        }
        Ok(d)
    }

    /// The visible part of a template image fitted to a `w` x `h` box, as premultiplied RGBA
    /// (cached when caching). None when nothing of it is visible.
    pub(crate) fn fitted_asset(
        &self,
        t: &Template,
        file: &str,
        fit: Fit,
        (w, h): (u32, u32),
        vis: Placed,
    ) -> Result<Option<crate::Fitted>, RenderError> {
        let key = (
            t.dir.display().to_string(),
            format!("{file}|{fit:?}|{vis:?}"),
            w,
            h,
        );
        if let Some(c) = &self.cache
            && let Some(v) = c.images.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        {
            return Ok(Some(v.clone()));
        }
        let d = self.decoded_asset(t, file)?;
        let Some((rgba, placed)) =
            fit_image(&d, fit, (w, h), vis, true).map_err(|e| t.asset_err(file, e))?
        else {
            return Ok(None);
        };
        let fitted = (Arc::new(rgba), placed);
        if let Some(c) = &self.cache {
            c.images
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, fitted.clone());
        }
        Ok(Some(fitted))
    }
}

impl Renderer {
    /// A customer photo decoded (cached by content hash when the renderer caches).
    pub(crate) fn decoded_photo(&self, hash: &str, bytes: &[u8]) -> Result<Arc<Decoded>, String> {
        if let Some(c) = &self.cache
            && let Some(d) = c.photos.lock().unwrap_or_else(|e| e.into_inner()).get(hash)
        {
            return Ok(d.clone());
        }
        let d = Arc::new(image_io::decode(bytes, &self.limits)?);
        if let Some(c) = &self.cache {
            let mut photos = c.photos.lock().unwrap_or_else(|e| e.into_inner());
            // A decoded 12 MP photo is 36 MB: keep only the last few.
            if photos.len() >= crate::PHOTO_CACHE_ENTRIES {
                photos.clear();
            }
            photos.insert(hash.to_string(), d.clone());
        }
        Ok(d)
    }

    /// A photo fitted to a box (cached by content hash, fit and size when caching).
    pub(crate) fn fitted_photo(
        &self,
        hash: &str,
        d: &Decoded,
        fit: Fit,
        (w, h): (u32, u32),
        vis: Placed,
        as_rgba: bool,
    ) -> Result<Option<crate::Fitted>, String> {
        let key = (
            format!("photo:{hash}:{as_rgba}"),
            format!("{fit:?}|{vis:?}"),
            w,
            h,
        );
        let cached = self.cache.as_ref().and_then(|c| {
            c.fitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        });
        if let Some(hit) = cached {
            return Ok(Some(hit));
        }
        let Some((v, placed)) = fit_image(d, fit, (w, h), vis, as_rgba)? else {
            return Ok(None);
        };
        let v = Arc::new(v);
        if let Some(c) = &self.cache {
            let mut fitted = c.fitted.lock().unwrap_or_else(|e| e.into_inner());
            if fitted.len() >= crate::FITTED_CACHE_ENTRIES {
                fitted.clear();
            }
            fitted.insert(key, (v.clone(), placed));
        }
        Ok(Some((v, placed)))
    }
}
