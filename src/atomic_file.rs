//! Writing a file so that a reader (or a crash) never sees half of it.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file beside `path` (`<name>.tmp<process id>`), flushes it to disk and renames it
/// over `path`: a trainer killed mid-write leaves the previous checkpoint intact. The temporary files such a
/// killed writer left beside `path` are removed first (on Linux, only those of processes no longer running, so
/// that another live writer's is left alone).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    remove_stale_temporaries(path, file_name);
    let mut temporary_name = file_name.to_os_string();
    temporary_name.push(format!(".tmp{}", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Removes the temporary files `<file_name>.tmp<process id>` beside `path` that a writer killed before its rename
/// left, ignoring every error: what cannot be removed now is tried again on the next write.
fn remove_stale_temporaries(path: &Path, file_name: &std::ffi::OsStr) {
    let Some(file_name) = file_name.to_str() else {
        return;
    };
    let prefix = format!("{file_name}.tmp");
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` still runs (on Linux; elsewhere it is taken as gone, its temporary file as stale).
fn process_is_running(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new("/proc").join(pid.to_string()).exists()
}
