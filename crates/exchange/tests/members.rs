//! The member register on both backends.

use ed25519_dalek::SigningKey;
use errandless_exchange::{migrate, MemberError, Members, NewMember};
use errandless_standards::Uscc;
use errandless_store::testing::for_each_backend;

fn key(seed: u8) -> ed25519_dalek::VerifyingKey {
    SigningKey::from_bytes(&[seed; 32]).verifying_key()
}

fn education(seed: u8) -> NewMember {
    NewMember {
        id: "education".into(),
        uscc: Uscc::compose(b'1', b'1', 520000, 1).to_string(),
        name_zh: "教育厅".into(),
        name_en: "Department of Education".into(),
        key: key(seed),
    }
}

#[tokio::test]
async fn members_register_list_and_rotate_keys() {
    for_each_backend(|store| async move {
        migrate(&store).await.expect("migrations apply");
        let members = Members::new(store);
        let m = members
            .register(education(1), 1_000)
            .await
            .expect("registers");
        assert_eq!(m.key, key(1));
        assert!(m.retired_keys.is_empty());

        let again = members.register(education(2), 1_001).await;
        assert!(
            matches!(again, Err(MemberError::AlreadyRegistered(_))),
            "{again:?}"
        );
        let mut same_code = education(3);
        same_code.id = "finance".into();
        let taken = members.register(same_code, 1_002).await;
        assert!(matches!(taken, Err(MemberError::UsccTaken(_))), "{taken:?}");

        let rotated = members
            .rotate_key("education", key(4), 2_000)
            .await
            .expect("rotates");
        assert_eq!(rotated.key, key(4));
        assert_eq!(rotated.retired_keys.len(), 1);
        assert_eq!(rotated.retired_keys[0].key, key(1));
        assert_eq!(rotated.retired_keys[0].retired_at, 2_000);
        let reused = members.rotate_key("education", key(1), 3_000).await;
        assert!(
            matches!(reused, Err(MemberError::KeyReused(_))),
            "{reused:?}"
        );
        let nobody = members.rotate_key("finance", key(5), 3_000).await;
        assert!(
            matches!(nobody, Err(MemberError::NotRegistered(_))),
            "{nobody:?}"
        );

        let list = members.list().await.expect("lists");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0], rotated);
    })
    .await;
}

#[tokio::test]
async fn bad_registrations_change_nothing() {
    for_each_backend(|store| async move {
        migrate(&store).await.expect("migrations apply");
        let members = Members::new(store);
        let mut bad_code = education(1);
        bad_code.uscc = "91350100M000100Y44".into();
        let r = members.register(bad_code, 1).await;
        assert!(matches!(r, Err(MemberError::InvalidUscc { .. })), "{r:?}");
        let mut unknown = education(1);
        unknown.id = "ministry_of_magic".into();
        let r = members.register(unknown, 1).await;
        assert!(matches!(r, Err(MemberError::UnknownDepartment(_))), "{r:?}");
        let mut nameless = education(1);
        nameless.name_en = "  ".into();
        let r = members.register(nameless, 1).await;
        assert!(matches!(r, Err(MemberError::EmptyName { .. })), "{r:?}");
        assert!(members.list().await.expect("lists").is_empty());
    })
    .await;
}
