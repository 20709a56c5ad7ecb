//! The store story on PostgreSQL, in a schema of its own. Runs when
//! `SVAR_TEST_POSTGRES_URL` is set (scripts/test.sh sets it from the machine's server,
//! installing and starting one from Debian's packages when there is none); otherwise it
//! says so and passes without a database.

use store_postgres::PostgresStore;

#[tokio::test]
async fn the_shared_story_passes_on_postgres() {
    let Ok(url) = std::env::var("SVAR_TEST_POSTGRES_URL") else {
        eprintln!("SVAR_TEST_POSTGRES_URL not set: PostgreSQL story skipped (scripts/test.sh sets it)");
        return;
    };
    let schema = format!(
        "svar_story_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() % 1_000_000)
    );
    let s = PostgresStore::connect(&url, Some(&schema)).await.expect("connect and migrate");
    let result = store::story::run(&s).await;
    // leave nothing behind
    if let Ok(admin) = PostgresStore::connect(&url, None).await {
        let _ = admin.drop_schema(&schema).await;
    }
    result.expect("story");
}
