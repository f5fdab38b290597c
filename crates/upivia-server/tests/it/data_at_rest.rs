//! The data directory is owner-only, and so is every file in it,
//! whatever was there before the server started.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::TestServer;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn assert_private(s: &TestServer) {
    // A write, so the WAL and shared-memory files certainly exist.
    s.credit(100).await;
    let data = s.dir.path().join("data");
    assert_eq!(mode(&data), 0o700, "data dir");
    // The database's files exist only on SQLite; on PostgreSQL the data
    // dir holds the keys, the checkpoints and the credentials file.
    let mut expected = vec!["initial-credentials.json", "audit.key"];
    if !crate::support::on_postgres() {
        expected.extend(["upivia.db", "upivia.db-wal", "upivia.db-shm"]);
    }
    for name in expected {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path) & 0o077, 0, "{} is private", path.display());
    }
}

#[tokio::test]
async fn a_new_data_dir_and_its_database_files_are_owner_only() {
    let s = TestServer::start().await;
    assert_private(&s).await;
}

#[tokio::test]
async fn a_data_dir_left_open_to_others_is_tightened_at_start() {
    let s = TestServer::start_with(|c| {
        std::fs::create_dir_all(&c.data_dir).unwrap();
        set_mode(&c.data_dir, 0o755);
        // An empty file is an empty SQLite database: as if an older
        // version (or a copy) had left it world-readable.
        let db = c.data_dir.join("upivia.db");
        std::fs::write(&db, b"").unwrap();
        set_mode(&db, 0o644);
        // The storage directory holds users' files: tightened as well.
        let objects = c.data_dir.join("objects");
        std::fs::create_dir(&objects).unwrap();
        set_mode(&objects, 0o755);
        let stray = c.data_dir.join("notes.json");
        std::fs::write(&stray, b"{}").unwrap();
        set_mode(&stray, 0o664);
    })
    .await;
    assert_private(&s).await;
    assert_eq!(mode(&s.dir.path().join("data/notes.json")), 0o600);
    assert_eq!(mode(&s.dir.path().join("data/objects")), 0o700);
}
