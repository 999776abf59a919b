//! The font library: every font the renderer may use, loaded from one folder and nowhere else.
//!
//! Two databases are built from the same files: cosmic-text's (shaping, bidi, per-script
//! fallback) and usvg's (text inside SVG artwork); their `fontdb` versions differ.

use crate::RenderError;
use cosmic_text::{FontSystem, fontdb};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Fonts from one folder, shared by every render of a process.
pub struct FontLibrary {
    dir: PathBuf,
    system: Mutex<FontSystem>,
    /// Built on first use: most templates have no SVG text.
    svg_db: OnceLock<Arc<usvg::fontdb::Database>>,
    files: Vec<PathBuf>,
    /// File path -> SHA-256, filled as fonts are used (hashing every font up front would cost
    /// ~100 ms per cold start for nothing).
    hashes: Mutex<HashMap<PathBuf, String>>,
}

impl FontLibrary {
    /// Loads every `.ttf`, `.otf` and `.ttc` in `dir` (not recursively into other folders).
    pub fn load(dir: &Path) -> Result<FontLibrary, RenderError> {
        let mut db = fontdb::Database::new();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            RenderError::Fonts(format!("cannot read font folder {}: {e}", dir.display()))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc")
                })
            })
            .collect();
        files.sort();
        for f in &files {
            db.load_font_file(f).map_err(|e| {
                RenderError::Fonts(format!("cannot load font {}: {e}", f.display()))
            })?;
        }
        if db.faces().next().is_none() {
            return Err(RenderError::Fonts(format!("no fonts in {}", dir.display())));
        }
        db.set_sans_serif_family("Noto Sans");
        db.set_serif_family("Noto Serif");
        let system = FontSystem::new_with_locale_and_db("en-US".to_string(), db);
        Ok(FontLibrary {
            dir: dir.to_path_buf(),
            system: Mutex::new(system),
            svg_db: OnceLock::new(),
            files,
            hashes: Mutex::new(HashMap::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shaping engine. Held only for shaping and glyph rasterization.
    pub(crate) fn system(&self) -> MutexGuard<'_, FontSystem> {
        self.system.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn svg_db(&self) -> Arc<usvg::fontdb::Database> {
        self.svg_db
            .get_or_init(|| {
                let mut db = usvg::fontdb::Database::new();
                for f in &self.files {
                    // Already loaded once above; a failure here would have failed there.
                    let _ = db.load_font_file(f);
                }
                db.set_sans_serif_family("Noto Sans");
                db.set_serif_family("Noto Serif");
                Arc::new(db)
            })
            .clone()
    }

    /// Does any font have a family of this name?
    pub fn has_family(&self, family: &str) -> bool {
        self.system().db().faces().any(|f| {
            f.families
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(family))
        })
    }

    /// Every family name in the folder, sorted (for errors that name the choices).
    pub fn families(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<String> = self
            .system()
            .db()
            .faces()
            .filter_map(|f| f.families.first().map(|(n, _)| n.clone()))
            .collect();
        names.into_iter().collect()
    }

    /// Does the family have an italic (or oblique) face? Without one, `italic` prints upright.
    pub fn has_italic(&self, family: &str) -> bool {
        self.system().db().faces().any(|f| {
            f.style != fontdb::Style::Normal
                && f.families
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(family))
        })
    }

    /// File name -> SHA-256 for the given faces (as used by a render).
    pub(crate) fn hash_faces(
        &self,
        ids: impl IntoIterator<Item = fontdb::ID>,
    ) -> BTreeMap<String, String> {
        let paths: Vec<PathBuf> = {
            let sys = self.system();
            ids.into_iter()
                .filter_map(|id| match &sys.db().face(id)?.source {
                    fontdb::Source::File(p) | fontdb::Source::SharedFile(p, _) => Some(p.clone()),
                    fontdb::Source::Binary(_) => None,
                })
                .collect()
        };
        let mut out = BTreeMap::new();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut cache = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
            let hash = cache
                .entry(p.clone())
                .or_insert_with(|| match std::fs::read(&p) {
                    Ok(bytes) => crate::digest::sha256_hex(&bytes),
                    Err(_) => "unreadable".to_string(),
                })
                .clone();
            out.insert(name, hash);
        }
        out
    }
}
