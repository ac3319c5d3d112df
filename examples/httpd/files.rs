//! Finds files under the site root and opens them, plus an optional in-memory cache of small
//! files.
//!
//! This is the filesystem half of path safety: the candidate path is canonicalized (resolving
//! every symlink) and served only if it is still under the canonical root. A found file is
//! opened, never read here: its body is sent from the open file with `sendfile` (see
//! `http.rs`). The one read is [`read_small`], which fills the cache, and only for files no
//! larger than the cache's per-file limit ([`FileCache::admits`]); big files never enter
//! memory. Lookups and that read use blocking `std::fs`, which is acceptable for this example.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// The outcome of looking a relative path up under the root.
#[derive(Debug)]
pub enum Lookup {
    /// A regular file under the root, opened for reading.
    Found(OpenFile),
    /// Missing, not a regular file, or a directory without `index.html`.
    NotFound,
    /// Permission denied (`EACCES`) inside the root.
    Forbidden,
    /// Resolves outside the root, e.g. through a symlink pointing out. Callers should answer
    /// exactly as for [`Lookup::NotFound`]: a distinct answer would let clients probe which
    /// files exist outside the root.
    Outside,
}

/// An opened regular file with the metadata used for `Content-Length` and cache validation.
#[derive(Debug)]
pub struct OpenFile {
    /// The canonical path (the cache key, and the source of the content type).
    pub path: PathBuf,
    /// The open handle.
    pub file: File,
    /// Length in bytes when opened.
    pub len: u64,
    /// Modification time when opened, if the filesystem reports one.
    pub modified: Option<SystemTime>,
}

/// Looks `relative` up under `root`, which must already be canonical.
///
/// Directories map to their `index.html`. Only regular files are opened, so a FIFO or device
/// under the root can never block the server.
pub fn lookup(root: &Path, relative: &Path) -> Lookup {
    let mut path = match contained(root, &root.join(relative)) {
        Ok(path) => path,
        Err(lookup) => return lookup,
    };
    let mut meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(err) => return from_io(&err),
    };
    if meta.is_dir() {
        path = match contained(root, &path.join("index.html")) {
            Ok(path) => path,
            Err(lookup) => return lookup,
        };
        meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) => return from_io(&err),
        };
    }
    if !meta.is_file() {
        return Lookup::NotFound;
    }
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) => return from_io(&err),
    };
    let meta = match file.metadata() {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => return Lookup::NotFound,
        Err(err) => return from_io(&err),
    };
    Lookup::Found(OpenFile { path, file, len: meta.len(), modified: meta.modified().ok() })
}

/// Reads the whole of a small `file` (exactly `file.len` bytes) for the cache; `Ok(None)` if
/// the file changed size since it was opened. Reads at most `file.len + 1` bytes whatever the
/// file holds now, so callers bound the memory by checking `file.len` first
/// ([`FileCache::admits`]).
pub fn read_small(file: &mut OpenFile) -> io::Result<Option<Arc<[u8]>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(file.len).unwrap_or(0));
    (&mut file.file).take(file.len.saturating_add(1)).read_to_end(&mut bytes)?;
    let complete = u64::try_from(bytes.len()).is_ok_and(|read| read == file.len);
    Ok(complete.then(|| Arc::from(bytes)))
}

/// Canonicalizes `candidate` and checks it is under `root`.
fn contained(root: &Path, candidate: &Path) -> Result<PathBuf, Lookup> {
    let canonical = fs::canonicalize(candidate).map_err(|err| from_io(&err))?;
    if canonical.starts_with(root) { Ok(canonical) } else { Err(Lookup::Outside) }
}

fn from_io(err: &io::Error) -> Lookup {
    if err.kind() == io::ErrorKind::PermissionDenied { Lookup::Forbidden } else { Lookup::NotFound }
}

/// A small cache of file contents keyed by canonical path, validated by length and mtime.
///
/// Cached bytes are shared (`Arc<[u8]>`) and queued for sending without a copy. Files larger
/// than `max_file_bytes` are never cached, nor read (they are sent with `sendfile`); when an
/// insert would exceed `max_total_bytes`, arbitrary entries are evicted first. The mutex keeps
/// [`FileCache`] (and so the `Site`) `Sync`; on the single-threaded event loop it is never
/// contended.
#[derive(Debug)]
pub struct FileCache {
    max_file_bytes: u64,
    max_total_bytes: u64,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<PathBuf, CachedFile>,
    /// Request paths already resolved to a cached file: the fast path (see
    /// [`FileCache::get_by_request`]). Bounded by [`MAX_REQUEST_PATHS`].
    by_request: HashMap<Box<[u8]>, Resolved>,
    total: u64,
}

/// What a request path resolved to.
#[derive(Debug)]
struct Resolved {
    canonical: PathBuf,
    content_type: &'static str,
}

/// The most request paths remembered; past it the map starts again (so clients sending endless
/// distinct paths cannot grow it).
const MAX_REQUEST_PATHS: usize = 4096;

#[derive(Debug)]
struct CachedFile {
    modified: Option<SystemTime>,
    bytes: Arc<[u8]>,
}

impl FileCache {
    /// Creates an empty cache with the given per-file and total byte limits.
    pub fn new(max_file_bytes: u64, max_total_bytes: u64) -> FileCache {
        FileCache { max_file_bytes, max_total_bytes, inner: Mutex::default() }
    }

    /// The fast path for a request path that was served from the cache before: its content type
    /// and bytes, if the file it resolved to is unchanged (same length and mtime, one `stat`
    /// instead of canonicalizing, opening and reading). Safe: the bytes were read from inside
    /// the root when cached, and any change sends the request back through the full,
    /// canonicalizing [`lookup`].
    pub fn get_by_request(&self, request: &[u8]) -> Option<(&'static str, Arc<[u8]>)> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let resolved = inner.by_request.get(request)?;
        let fresh = fs::metadata(&resolved.canonical).ok().and_then(|meta| {
            let cached = inner.entries.get(&resolved.canonical)?;
            let same = meta.is_file()
                && meta.len() == cached.bytes.len() as u64
                && meta.modified().ok() == cached.modified;
            same.then(|| (resolved.content_type, Arc::clone(&cached.bytes)))
        });
        if fresh.is_none() {
            inner.by_request.remove(request);
        }
        fresh
    }

    /// Remembers that `request` resolved to the (cached) `file`.
    pub fn remember_request(&self, request: &[u8], file: &OpenFile, content_type: &'static str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !inner.entries.contains_key(&file.path) {
            return;
        }
        if inner.by_request.len() >= MAX_REQUEST_PATHS {
            inner.by_request.clear();
        }
        let resolved = Resolved { canonical: file.path.clone(), content_type };
        inner.by_request.insert(request.into(), resolved);
    }

    /// Returns the cached contents of `file` if they are still current (same length and mtime).
    pub fn get(&self, file: &OpenFile) -> Option<Arc<[u8]>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = inner.entries.get(&file.path)?;
        let current = cached.bytes.len() as u64 == file.len && cached.modified == file.modified;
        current.then(|| Arc::clone(&cached.bytes))
    }

    /// Whether a file of `len` bytes may be cached (and so read into memory to fill the cache).
    pub fn admits(&self, len: u64) -> bool {
        len <= self.max_file_bytes && len <= self.max_total_bytes
    }

    /// Remembers `bytes` as the contents of `file`, if it is small enough ([`Self::admits`]).
    pub fn insert(&self, file: &OpenFile, bytes: Arc<[u8]>) {
        let len = bytes.len() as u64;
        if !self.admits(len) {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.entries.remove(&file.path) {
            inner.total = inner.total.saturating_sub(old.bytes.len() as u64);
        }
        while inner.total + len > self.max_total_bytes {
            let Some(victim) = inner.entries.keys().next().cloned() else { break };
            if let Some(old) = inner.entries.remove(&victim) {
                inner.total = inner.total.saturating_sub(old.bytes.len() as u64);
            }
        }
        inner.total += len;
        let cached = CachedFile { modified: file.modified, bytes };
        inner.entries.insert(file.path.clone(), cached);
    }

    /// The number of cached files.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
