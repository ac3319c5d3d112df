//! Finds files under the site root and opens them, plus an optional in-memory cache of small
//! files. Nothing here is ever stale: every request resolves its whole path again.
//!
//! Path safety, filesystem half: a request's relative path is opened with `openat2` from the
//! root directory with `RESOLVE_BENEATH`, so the kernel itself refuses any resolution that
//! would leave the root (a `..` or a symlink pointing out) with `EXDEV`. Only then, and where
//! `openat2` is missing, the slow path canonicalizes the candidate and serves it only if it is
//! still under the canonical root (this accepts absolute symlinks that point back inside).
//! One `openat2` and one `fstat` per request (nginx without `open_file_cache` does the same
//! `open` + `fstat`); a cached small file is found by one `stat` of the whole path instead
//! ([`Root::peek`]).
//! Either way a swapped symlink on the way (an atomic `current -> release-N` deploy)
//! or a removed file is seen by the very next request. The root itself is kept open, and
//! re-opened when the path it was given by resolves to another directory (one more `stat` per
//! uncached request), so `--root /srv/current` follows its swaps too.
//!
//! A found file is opened, never read here: its body is sent from the open file with `sendfile`
//! (see `http.rs`). The one read is [`read_small`], which fills the cache, and only for files no
//! larger than the cache's per-file limit ([`FileCache::admits`]); big files never enter memory.
//! These calls block, which is acceptable for this example.

use super::conditional::Validators;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The outcome of looking a relative path up under the root.
#[derive(Debug)]
pub enum Lookup {
    /// A regular file under the root, opened for reading.
    Found(OpenFile),
    /// A directory (answered with a redirect to the name with a trailing slash).
    Directory,
    /// Missing, or neither a regular file nor a directory.
    NotFound,
    /// Permission denied (`EACCES`) inside the root.
    Forbidden,
    /// Resolves outside the root, e.g. through a symlink pointing out. Callers should answer
    /// exactly as for [`Lookup::NotFound`]: a distinct answer would let clients probe which
    /// files exist outside the root.
    Outside,
}

/// What identifies one version of a file: where it lives (device, inode) and what `fstat` says
/// about its size and times. Any write, truncation, rename over it or `touch` changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// The device number.
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
    /// Size in bytes.
    pub len: u64,
    /// Modification time, seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    /// Status change time (set by the kernel on any change, and never by `touch -d`).
    pub ctime: (i64, i64),
}

impl Stamp {
    /// The stamp of a `stat` result.
    fn of_stat(st: &rustix::fs::Stat) -> Stamp {
        Stamp {
            dev: st.st_dev,
            ino: st.st_ino,
            len: u64::try_from(st.st_size).unwrap_or(0),
            mtime: (st.st_mtime, i64::try_from(st.st_mtime_nsec).unwrap_or(0)),
            ctime: (st.st_ctime, i64::try_from(st.st_ctime_nsec).unwrap_or(0)),
        }
    }

    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The modification time in whole seconds since the epoch (0 if before it).
    pub fn mtime_secs(&self) -> u64 {
        u64::try_from(self.mtime.0).unwrap_or(0)
    }
}

/// An opened regular file with the metadata used for `Content-Length`, validators and the
/// cache.
#[derive(Debug)]
pub struct OpenFile {
    /// The open handle.
    pub file: File,
    /// `fstat` of the handle when opened.
    pub stamp: Stamp,
}

impl OpenFile {
    /// Length in bytes when opened.
    pub fn len(&self) -> u64 {
        self.stamp.len
    }
}

/// The served root directory: the path it was given by, and the directory that path resolved
/// to, kept open.
#[derive(Debug)]
pub struct Root {
    given: PathBuf,
    current: Mutex<RootDir>,
}

#[derive(Debug)]
struct RootDir {
    dir: File,
    dev: u64,
    ino: u64,
    canonical: PathBuf,
}

impl RootDir {
    fn open(given: &Path) -> io::Result<RootDir> {
        let canonical = fs::canonicalize(given)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = File::from(rustix::fs::open(&canonical, flags, Mode::empty())?);
        let meta = dir.metadata()?;
        Ok(RootDir { dir, dev: meta.dev(), ino: meta.ino(), canonical })
    }
}

impl Root {
    /// Opens the directory `given` names (it must exist and be a directory).
    pub fn open(given: &Path) -> io::Result<Root> {
        let given = std::path::absolute(given)?;
        let current = RootDir::open(&given)?;
        Ok(Root { given, current: Mutex::new(current) })
    }

    /// The canonical path of the root directory in use now.
    pub fn canonical(&self) -> PathBuf {
        self.current.lock().unwrap_or_else(PoisonError::into_inner).canonical.clone()
    }

    /// Looks `relative` up under the root, as the root's path resolves now.
    pub fn lookup(&self, relative: &Path) -> Lookup {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(outcome) = self.follow_root(&mut current) {
            return outcome;
        }
        lookup(&current, relative)
    }

    /// The stamp of the regular file `relative` names now, by one `stat` of the root's path
    /// joined with `relative` (built in `scratch`, so nothing is allocated), without opening
    /// it: the cache's fast path ([`FileCache::get_stamp`]). Resolving the root's path and the
    /// file's in one walk sees a swapped root exactly as [`lookup`](Self::lookup) does, without
    /// a second `stat` for the root. The `stat` follows symlinks without `RESOLVE_BENEATH`, so
    /// it decides nothing about safety: its stamp only selects an entry the cache filled from a
    /// file opened beneath the root, and only the very same file (device, inode, size, mtime
    /// and ctime) matches. Anything else goes the `openat2` way.
    pub fn peek(&self, relative: &Path, scratch: &mut Vec<u8>) -> Option<Stamp> {
        scratch.clear();
        scratch.extend_from_slice(self.given.as_os_str().as_bytes());
        scratch.push(b'/');
        scratch.extend_from_slice(relative.as_os_str().as_bytes());
        let st = rustix::fs::stat(scratch.as_slice()).ok()?;
        let regular = rustix::fs::FileType::from_raw_mode(st.st_mode).is_file();
        regular.then(|| Stamp::of_stat(&st))
    }

    /// Re-opens the root if its path now names another directory (one `stat` of the path).
    fn follow_root(&self, current: &mut RootDir) -> Result<(), Lookup> {
        match fs::metadata(&self.given) {
            Ok(meta) if meta.dev() == current.dev && meta.ino() == current.ino => Ok(()),
            Ok(meta) if meta.is_dir() => match RootDir::open(&self.given) {
                Ok(reopened) => {
                    *current = reopened;
                    Ok(())
                }
                Err(err) => Err(from_io(&err)),
            },
            Ok(_) => Err(Lookup::NotFound),
            Err(err) => Err(from_io(&err)),
        }
    }
}

/// Looks `relative` up under `root`: `openat2` beneath it, or the canonicalizing slow path.
fn lookup(root: &RootDir, relative: &Path) -> Lookup {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(&root.dir, relative, flags, Mode::empty(), resolve) {
        Ok(fd) => opened(File::from(fd)),
        // EXDEV: the resolution would leave the root (an absolute symlink, even one pointing
        // back inside, or one pointing out). ENOSYS/EPERM: no openat2 (old kernel, seccomp).
        Err(Errno::XDEV | Errno::NOSYS | Errno::PERM) => lookup_canonical(root, relative),
        Err(errno) => from_errno(errno),
    }
}

/// The slow path: canonicalize, check containment, open the canonical path.
fn lookup_canonical(root: &RootDir, relative: &Path) -> Lookup {
    let canonical = match fs::canonicalize(root.canonical.join(relative)) {
        Ok(canonical) => canonical,
        Err(err) => return from_io(&err),
    };
    if !canonical.starts_with(&root.canonical) {
        return Lookup::Outside;
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    match rustix::fs::open(&canonical, flags, Mode::empty()) {
        Ok(fd) => opened(File::from(fd)),
        Err(errno) => from_errno(errno),
    }
}

/// Classifies an opened path by `fstat`. Opening is non-blocking, so a FIFO or device under
/// the root can never block the server; only regular files are served.
fn opened(file: File) -> Lookup {
    match file.metadata() {
        Ok(meta) if meta.is_file() => Lookup::Found(OpenFile { stamp: Stamp::of(&meta), file }),
        Ok(meta) if meta.is_dir() => Lookup::Directory,
        Ok(_) => Lookup::NotFound,
        Err(err) => from_io(&err),
    }
}

/// Reads the whole of a small `file` (exactly its length) for the cache; `Ok(None)` if the
/// file changed size since it was opened. Reads at most `len + 1` bytes whatever the file holds
/// now, so callers bound the memory by checking the length first ([`FileCache::admits`]).
pub fn read_small(file: &mut OpenFile) -> io::Result<Option<Arc<[u8]>>> {
    let len = file.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&mut file.file).take(len.saturating_add(1)).read_to_end(&mut bytes)?;
    let complete = u64::try_from(bytes.len()).is_ok_and(|read| read == len);
    Ok(complete.then(|| Arc::from(bytes)))
}

fn from_errno(errno: Errno) -> Lookup {
    if errno == Errno::ACCESS { Lookup::Forbidden } else { Lookup::NotFound }
}

fn from_io(err: &io::Error) -> Lookup {
    if err.kind() == io::ErrorKind::PermissionDenied { Lookup::Forbidden } else { Lookup::NotFound }
}

/// How long after its last change a file must be before its contents are cached (see
/// [`FileCache::with_settle`]): well above the filesystems' timestamp granularity.
pub const SETTLE: Duration = Duration::from_secs(1);

/// A cache of small files' contents keyed by the [`Stamp`] of the file a request just opened.
///
/// The path is never cached: each request opens the file afresh (see the module docs), and
/// its `fstat` picks the entry. An entry is used only if the open file has the same device,
/// inode, size, mtime and ctime as when it was read. A file whose last change (mtime or ctime)
/// is less than the settle time old is not cached at all ("racily clean", as git calls it):
/// two writes within one timestamp tick would otherwise leave equal stamps over different
/// contents. So cached bytes are always the file's current bytes.
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
    settle: Duration,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<(u64, u64), Arc<CachedFile>>,
    total: u64,
}

/// One cached file version: its contents, and what a 200 response says about it, formatted
/// once when it was cached rather than on every hit.
#[derive(Debug)]
pub struct CachedFile {
    stamp: Stamp,
    /// The contents.
    pub bytes: Arc<[u8]>,
    /// Its validators, with `Last-Modified` not clamped to any response's `Date` (a cached
    /// file is settled: its mtime lies in the past); a server whose clock has since gone back
    /// before it must not use them (see [`Self::dated_before`]).
    pub validators: Validators,
    /// Its 200 response's fields between `Date` and `Connection` (`Content-Type`,
    /// `Content-Length`, `ETag`, `Last-Modified`, `Accept-Ranges`), with their line ends.
    pub fields: Box<[u8]>,
}

impl CachedFile {
    /// Whether its `Last-Modified` lies after `now` (seconds since the epoch): the clock went
    /// back since it was cached, so the validators must be made again, clamped.
    pub fn dated_before(&self, now: u64) -> bool {
        self.validators.last_modified > now
    }
}

impl FileCache {
    /// Creates an empty cache with the given per-file and total byte limits and the default
    /// settle time ([`SETTLE`]).
    pub fn new(max_file_bytes: u64, max_total_bytes: u64) -> FileCache {
        FileCache { max_file_bytes, max_total_bytes, settle: SETTLE, inner: Mutex::default() }
    }

    /// Replaces the settle time: how old a file's last change must be (by the system clock)
    /// before its contents are cached.
    pub fn with_settle(mut self, settle: Duration) -> FileCache {
        self.settle = settle;
        self
    }

    /// Returns the cached `file` if it is the very version that was cached.
    pub fn get(&self, file: &OpenFile) -> Option<Arc<CachedFile>> {
        self.get_stamp(&file.stamp)
    }

    /// Returns the cached file version `stamp`, if that very version is cached.
    pub fn get_stamp(&self, stamp: &Stamp) -> Option<Arc<CachedFile>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = inner.entries.get(&(stamp.dev, stamp.ino))?;
        (cached.stamp == *stamp).then(|| Arc::clone(cached))
    }

    /// Whether a file of `len` bytes may be cached (and so read into memory to fill the cache).
    pub fn admits(&self, len: u64) -> bool {
        len <= self.max_file_bytes && len <= self.max_total_bytes
    }

    /// Whether `file` last changed long enough ago (by the system clock) to be cached.
    pub fn settled(&self, file: &OpenFile) -> bool {
        let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let changed = |(secs, nanos): (i64, i64)| {
            let secs = u64::try_from(secs).unwrap_or(u64::MAX);
            let nanos = u32::try_from(nanos).unwrap_or(0);
            Duration::new(secs, nanos.min(999_999_999))
        };
        let last = changed(file.stamp.mtime).max(changed(file.stamp.ctime));
        last.saturating_add(self.settle) <= now
    }

    /// Remembers `bytes` as the contents of `file`, if it is small enough ([`Self::admits`]),
    /// with the `validators` and the 200 response `fields` made for it (see [`CachedFile`]).
    pub fn insert(
        &self,
        file: &OpenFile,
        bytes: Arc<[u8]>,
        validators: &Validators,
        fields: &[u8],
    ) {
        let len = bytes.len() as u64;
        if !self.admits(len) || len != file.len() {
            return;
        }
        let key = (file.stamp.dev, file.stamp.ino);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = inner.entries.remove(&key) {
            inner.total = inner.total.saturating_sub(old.bytes.len() as u64);
        }
        while inner.total + len > self.max_total_bytes {
            let Some(victim) = inner.entries.keys().next().copied() else { break };
            if let Some(old) = inner.entries.remove(&victim) {
                inner.total = inner.total.saturating_sub(old.bytes.len() as u64);
            }
        }
        inner.total += len;
        let validators = validators.clone();
        let cached = CachedFile { stamp: file.stamp, bytes, validators, fields: fields.into() };
        inner.entries.insert(key, Arc::new(cached));
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
