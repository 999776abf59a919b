//! Templates by id from the templates folder, loaded once and kept while their manifest is
//! unchanged (a worker renders many items of the same product; decoding assets is the largest
//! fixed cost of a render).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use renderer::{Renderer, Template};

use crate::AppError;

/// A loaded template and the manifest's modification time it was loaded at.
type Loaded = (Option<SystemTime>, Arc<Template>);

pub struct TemplateCache {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Loaded>>,
}

/// Template ids are folder names: letters, digits, `-` and `_` only.
pub fn valid_template_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl TemplateCache {
    pub fn new(dir: PathBuf) -> Self {
        TemplateCache {
            dir,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Whether a template with this id is installed (cheap: looks for its manifest).
    pub fn exists(&self, id: &str) -> bool {
        valid_template_id(id) && self.dir.join(id).join("template.toml").is_file()
    }

    /// The template, from the cache when its manifest has not changed on disk.
    pub fn get(&self, renderer: &Renderer, id: &str) -> Result<Arc<Template>, AppError> {
        if !valid_template_id(id) {
            return Err(AppError::Template {
                id: id.to_string(),
                message: "not a valid template id".into(),
            });
        }
        let folder = self.dir.join(id);
        let manifest = folder.join("template.toml");
        let modified = std::fs::metadata(&manifest)
            .map_err(|e| AppError::Template {
                id: id.to_string(),
                message: format!("no template at {}: {e}", manifest.display()),
            })?
            .modified()
            .ok();
        if let Some((when, t)) = self.loaded.lock().expect("template cache lock").get(id)
            && *when == modified
        {
            return Ok(t.clone());
        }
        let template = Arc::new(renderer.load_template(&folder)?);
        self.loaded
            .lock()
            .expect("template cache lock")
            .insert(id.to_string(), (modified, template.clone()));
        Ok(template)
    }
}
