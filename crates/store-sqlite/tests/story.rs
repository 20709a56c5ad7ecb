//! The store story on SQLite: bindings survive a reopen, call records come back as written.

use pbx::record::{CallRecord, Direction, Outcome, Party};
use sip::Peer;
use sip::registrar::{Binding, BindingChange};
use store::Store;
use store_sqlite::SqliteStore;

fn binding(contact: &str, expires_at: i64) -> Binding {
    Binding {
        aor: "1001".into(),
        contact: contact.parse().expect("uri"),
        params: sip_msg::text::parse_params("q=0.5;+sip.instance=\"<urn:uuid:1>\"").expect("p"),
        q: 0.5,
        expires_at,
        call_id: "reg1".into(),
        cseq: 7,
        source: Peer::udp("192.0.2.7:5062".parse().expect("addr")),
        user_agent: Some("baresip".into()),
    }
}

#[tokio::test]
async fn bindings_and_call_records_survive_a_reopen() {
    let dir = std::env::temp_dir().join(format!("svar-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = SqliteStore::open_dir(&dir).await.expect("open");
        let b = binding("sip:1001@192.0.2.7:5062;transport=udp", 5000);
        s.apply_bindings(&[BindingChange::upsert(b.clone())]).await.expect("upsert");
        // an update of the same key replaces the row
        let mut b2 = b.clone();
        b2.expires_at = 6000;
        b2.cseq = 8;
        s.apply_bindings(&[BindingChange::upsert(b2)]).await.expect("upsert");
        let rec = CallRecord {
            call_id: "c1".into(),
            direction: Direction::Internal,
            caller: "1001".into(),
            callee: "1002".into(),
            trunk: None,
            started_ms: 1,
            answered_ms: Some(2),
            ended_ms: 3,
            outcome: Outcome::Answered,
            status: 200,
            hangup_by: Some(Party::Callee),
            flow: None,
        };
        let mut busy = rec.clone();
        busy.call_id = "c2".into();
        busy.outcome = Outcome::Busy;
        busy.status = 486;
        busy.answered_ms = None;
        busy.hangup_by = None;
        s.insert_call_records(&[rec, busy]).await.expect("records");
    }
    let s = SqliteStore::open_dir(&dir).await.expect("reopen");
    let loaded = s.load_bindings().await.expect("load");
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].expires_at, 6000);
    assert_eq!(loaded[0].cseq, 8);
    assert_eq!(loaded[0], {
        let mut b = binding("sip:1001@192.0.2.7:5062;transport=udp", 6000);
        b.cseq = 8;
        b
    });
    let recs = s.recent_call_records(10).await.expect("recs");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].call_id, "c2");
    assert_eq!(recs[0].outcome, Outcome::Busy);
    assert_eq!(recs[1].hangup_by, Some(Party::Callee));
    let key = loaded[0].key().to_owned();
    s.apply_bindings(&[BindingChange::Remove { aor: "1001".into(), key }]).await.expect("rm");
    assert!(s.load_bindings().await.expect("load").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_shared_story_passes_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("svar-story-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = SqliteStore::open_dir(&dir).await.expect("open");
    store::story::run(&s).await.expect("story");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A batch is written as statements of a few fixed row counts: every size, including ones
/// that are not a sum of a single statement size, lands whole, and the last change of a
/// binding within a batch wins.
#[tokio::test]
async fn batches_of_any_size_are_written_whole() {
    let dir = std::env::temp_dir().join(format!("svar-store-batches-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = SqliteStore::open_dir(&dir).await.expect("open");
    let mut written = 0;
    for size in [1usize, 3, 4, 5, 17, 63, 64, 65, 150] {
        let mut batch: Vec<BindingChange> = (0..size)
            .map(|i| {
                let mut b = binding(&format!("sip:1001@192.0.2.7:{}", 10_000 + written + i), 5000);
                b.params.clear();
                b.aor = format!("u{}", written + i);
                BindingChange::upsert(b)
            })
            .collect();
        // a second change of the first binding in the same batch: it is the one kept
        if let Some(BindingChange::Upsert(first)) = batch.first().cloned() {
            let mut later = Binding::clone(&first);
            later.expires_at = 7000;
            batch.push(BindingChange::upsert(later));
        }
        s.apply_bindings(&batch).await.expect("write");
        written += size;
        let loaded = s.load_bindings().await.expect("load");
        assert_eq!(loaded.len(), written, "after a batch of {size}");
        let first = loaded.iter().find(|b| b.aor == format!("u{}", written - size)).expect("first of the batch");
        assert_eq!(first.expires_at, 7000, "the batch's last change of a binding wins");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The store writer's connection writes what the sqlx store reads back: bindings (the
/// last change of each in a batch; removals), and call records, a batch per transaction.
#[tokio::test]
async fn the_record_writer_writes_what_the_store_reads() {
    use store::RecordSink;
    let dir = std::env::temp_dir().join(format!("svar-store-writer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = SqliteStore::open_dir(&dir).await.expect("open");
    let mut w = store_sqlite::RecordWriter::open_dir(&dir).expect("writer");
    let a = binding("sip:1001@192.0.2.7:5062;transport=udp", 5000);
    let mut b = binding("sip:1001@192.0.2.8:5062", 5000);
    b.params.clear();
    b.aor = "1002".into();
    let mut a_later = a.clone();
    a_later.expires_at = 6000;
    a_later.cseq = 8;
    let rec = CallRecord {
        call_id: "c1".into(),
        direction: Direction::Inbound,
        caller: "+4512345678".into(),
        callee: "1001".into(),
        trunk: Some("provider".into()),
        started_ms: 1,
        answered_ms: Some(2),
        ended_ms: 3,
        outcome: Outcome::Answered,
        status: 200,
        hangup_by: Some(Party::Caller),
        flow: Some("ivr:1".into()),
    };
    w.write(
        &[BindingChange::upsert(a.clone()), BindingChange::upsert(b.clone()), BindingChange::upsert(a_later.clone())],
        std::slice::from_ref(&rec),
    )
    .expect("write");
    let mut loaded = s.load_bindings().await.expect("load");
    loaded.sort_by(|x, y| x.aor.cmp(&y.aor));
    assert_eq!(loaded, vec![a_later.clone(), b.clone()], "the batch's last change of 1001 wins");
    assert_eq!(s.recent_call_records(10).await.expect("records"), vec![rec]);
    // a removal, by the key the registrar gives
    let remove_a = || BindingChange::Remove { aor: "1001".into(), key: a.key().to_owned() };
    w.write(&[remove_a()], &[]).expect("remove");
    assert_eq!(s.load_bindings().await.expect("load"), vec![b.clone()]);
    // within one batch the order holds: registered, removed, registered again stays;
    // registered then removed is gone
    w.write(&[BindingChange::upsert(a.clone()), remove_a(), BindingChange::upsert(a_later.clone())], &[])
        .expect("batch");
    let mut loaded = s.load_bindings().await.expect("load");
    loaded.sort_by(|x, y| x.aor.cmp(&y.aor));
    assert_eq!(loaded, vec![a_later.clone(), b.clone()]);
    w.write(&[BindingChange::upsert(a.clone()), remove_a()], &[]).expect("batch");
    assert_eq!(s.load_bindings().await.expect("load"), vec![b.clone()]);
    // A larger batch: a binding changed twice ends as its later change, and a removal
    // in the middle keeps the order of what comes before and after it.
    let user = |i: usize, expires_at: i64| {
        let mut u = binding(&format!("sip:2{i:03}@192.0.2.9:5060"), expires_at);
        u.params.clear();
        u.aor = format!("2{i:03}");
        u
    };
    let mut batch: Vec<BindingChange> = (0..40).map(|i| BindingChange::upsert(user(i, 5000))).collect();
    batch.insert(5, BindingChange::upsert(user(0, 7000)));
    batch.insert(36, BindingChange::Remove { aor: "2001".into(), key: user(1, 0).key().to_owned() });
    batch.push(BindingChange::upsert(user(1, 8000)));
    w.write(&batch, &[]).expect("runs");
    let loaded = s.load_bindings().await.expect("load");
    let expires = |aor: &str| loaded.iter().find(|x| x.aor == aor).map(|x| x.expires_at);
    assert_eq!(loaded.len(), 41, "40 users and 1002");
    assert_eq!(expires("2000"), Some(7000), "the later change wins");
    assert_eq!(expires("2001"), Some(8000), "removed, then registered again after the removal");
    assert_eq!(expires("2039"), Some(5000));
    assert_eq!(expires("1002"), Some(b.expires_at));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A database written before bindings became a table without rowids (migration 0007)
/// keeps its bindings through the upgrade.
#[tokio::test]
async fn bindings_survive_the_upgrade_to_a_table_without_rowids() {
    let dir = std::env::temp_dir().join(format!("svar-store-upgrade-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let earlier = dir.join("migrations-0001-0006");
    std::fs::create_dir_all(&earlier).expect("dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.as_str() < "0007" {
            std::fs::copy(&path, earlier.join(&name)).expect("copy");
        }
    }
    let b = binding("sip:1001@192.0.2.7:5062;transport=udp", 5000);
    let mut params = String::new();
    sip_msg::text::write_params(&mut params, &b.params);
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("svar.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::SqlitePool::connect_with(opts).await.expect("connect");
        sqlx::migrate::Migrator::new(earlier.as_path()).await.expect("migrator").run(&pool).await.expect("migrate");
        let without_rowid: i64 = sqlx::query_scalar("SELECT wr FROM pragma_table_list WHERE name = 'bindings'")
            .fetch_one(&pool)
            .await
            .expect("table list");
        assert_eq!(without_rowid, 0, "the bindings table as migrations 1-6 left it");
        sqlx::query(
            "INSERT INTO bindings (aor, binding_key, contact, params, q, expires_at, call_id, cseq, source_transport, source_addr, user_agent)
             VALUES ('1001', ?, 'sip:1001@192.0.2.7:5062;transport=udp', ?, 0.5, 5000, 'reg1', 7, 'UDP', '192.0.2.7:5062', 'baresip')",
        )
        .bind(b.key())
        .bind(params)
        .execute(&pool)
        .await
        .expect("insert");
        pool.close().await;
    }
    let s = SqliteStore::open_dir(&dir).await.expect("open migrates the rest");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("svar.db"));
    let pool = sqlx::SqlitePool::connect_with(opts).await.expect("connect");
    let without_rowid: i64 = sqlx::query_scalar("SELECT wr FROM pragma_table_list WHERE name = 'bindings'")
        .fetch_one(&pool)
        .await
        .expect("table list");
    assert_eq!(without_rowid, 1, "migration 0007 ran");
    pool.close().await;
    assert_eq!(s.load_bindings().await.expect("load"), vec![b.clone()]);
    // and the upgraded table still replaces by key
    let mut refreshed = b.clone();
    refreshed.expires_at = 6000;
    s.apply_bindings(&[BindingChange::upsert(refreshed.clone())]).await.expect("upsert");
    assert_eq!(s.load_bindings().await.expect("load"), vec![refreshed]);
    let _ = std::fs::remove_dir_all(&dir);
}
