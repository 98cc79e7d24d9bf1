//! The outbox keeps a message whose channel failed and sends it on the next round.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use errandless_identity::{migrate, Channel, Message, Outbox, Sending};
use errandless_store::testing::for_each_backend;

/// A gateway that is down for its first `down` sends.
struct Flaky {
    down: usize,
    calls: AtomicUsize,
    sent: std::sync::Mutex<Vec<String>>,
}

impl Channel for Flaky {
    fn send<'a>(&'a self, message: &'a Message) -> Sending<'a> {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.down {
                return Err("gateway down".into());
            }
            self.sent.lock().unwrap().push(message.body.clone());
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_failed_send_is_kept_and_retried_once_the_channel_works() {
    for_each_backend(|store| async move {
        migrate(&store).await.unwrap();
        let channel = Arc::new(Flaky {
            down: 1,
            calls: AtomicUsize::new(0),
            sent: Default::default(),
        });
        let outbox = Outbox::new(store.clone(), channel.clone());
        let accounts = errandless_identity::Accounts::new(
            store.clone(),
            outbox.clone(),
            errandless_identity::Secret::from_bytes([1; 32]),
        );
        accounts
            .register(
                &errandless_identity::NewAccount {
                    citizen_id: errandless_standards::CitizenId::compose(
                        520102,
                        errandless_standards::Date::new(1990, 1, 1).unwrap(),
                        7,
                    )
                    .as_str()
                    .to_owned(),
                    name: "测试".into(),
                    phone: "13900000001".into(),
                    password: "a long passphrase".into(),
                },
                0,
            )
            .await
            .unwrap();
        assert_eq!(outbox.deliver().await.unwrap(), 0, "the gateway is down");
        assert_eq!(outbox.deliver().await.unwrap(), 1, "sent on the next round");
        assert_eq!(outbox.deliver().await.unwrap(), 0, "and only once");
        let sent = channel.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].contains("验证码"));
    })
    .await;
}
