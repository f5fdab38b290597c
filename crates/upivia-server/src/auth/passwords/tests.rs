use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;

#[test]
fn new_passwords_need_length_and_a_change() {
    let email = "owner@upivia.local";
    assert_eq!(
        check_new_password("fourteen chars", "old", email),
        Err(PasswordRule::TooShort)
    );
    assert_eq!(check_new_password("fifteen  chars!", "old", email), Ok(()));
    // Characters, not bytes: 15 two-byte letters are enough, 14 are not.
    assert_eq!(check_new_password(&"é".repeat(15), "old", email), Ok(()));
    assert_eq!(
        check_new_password(&"é".repeat(14), "old", email),
        Err(PasswordRule::TooShort)
    );
    assert_eq!(
        check_new_password(&"x".repeat(257), "old", email),
        Err(PasswordRule::TooLong)
    );
    let same = "the very same passphrase";
    assert_eq!(
        check_new_password(same, same, email),
        Err(PasswordRule::Unchanged)
    );
    assert_eq!(
        check_new_password("Owner@Upivia.Local", "old", email),
        Err(PasswordRule::IsEmail)
    );
}

#[tokio::test]
async fn the_pool_runs_at_most_its_concurrency_and_refuses_past_the_queue() {
    let pool = Arc::new(PasswordPool::new(2, 3));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    // Five admitted (two holding a slot, three waiting); a sixth is refused.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (pool, running, peak, gate) =
                (pool.clone(), running.clone(), peak.clone(), gate.clone());
            tokio::spawn(async move {
                let slot = pool.slot().await.unwrap();
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                gate.acquire().await.unwrap().forget();
                running.fetch_sub(1, Ordering::SeqCst);
                drop(slot);
            })
        })
        .collect();
    while pool.admitted.load(Ordering::SeqCst) < 5 || running.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(matches!(pool.slot().await, Err(PasswordWorkError::Busy)));
    gate.add_permits(5);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(
        pool.admitted.load(Ordering::SeqCst),
        0,
        "every slot was given back"
    );
    assert!(pool.slot().await.is_ok());
}

#[tokio::test]
async fn a_cancelled_wait_leaves_the_queue() {
    let pool = PasswordPool::new(1, 1);
    let held = pool.slot().await.unwrap();
    {
        let waiting = pool.slot();
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut waiting)
                .await
                .is_err()
        );
        assert!(matches!(pool.slot().await, Err(PasswordWorkError::Busy)));
    }
    assert_eq!(pool.admitted.load(Ordering::SeqCst), 1);
    drop(held);
    assert!(pool.slot().await.is_ok());
}

#[tokio::test]
async fn verification_against_no_user_is_false() {
    let pool = PasswordPool::new(1, 0);
    let slot = pool.slot().await.unwrap();
    assert!(!slot.verify("anything".into(), None).await.unwrap());
    let hash = crate::auth::hash_password("correct horse battery").unwrap();
    let slot = pool.slot().await.unwrap();
    assert!(
        slot.verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap()
    );
    let slot = pool.slot().await.unwrap();
    let new = slot
        .verify_and_hash("wrong".into(), hash.clone(), "n".into())
        .await
        .unwrap();
    assert_eq!(new, None);
    let slot = pool.slot().await.unwrap();
    let new = slot
        .verify_and_hash("correct horse battery".into(), hash, "next one".into())
        .await
        .unwrap()
        .unwrap();
    assert!(crate::auth::verify_password("next one", &new));
}

#[test]
fn reused_memory_reads_and_writes_the_standard_phc_hashes() {
    let mut memory = HashMemory::default();
    let ours = memory.hash("correct horse battery").unwrap();
    assert!(
        ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{ours}"
    );
    assert!(crate::auth::verify_password("correct horse battery", &ours));
    let theirs = crate::auth::hash_password("staple").unwrap();
    assert!(memory.verify("staple", &theirs));
    assert!(!memory.verify("stapler", &theirs));
    assert!(!memory.verify("staple", "not a hash"));
    assert!(!memory.verify(
        "staple",
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    ));
    assert_ne!(
        memory.hash("same").unwrap(),
        memory.hash("same").unwrap(),
        "salted"
    );
}
