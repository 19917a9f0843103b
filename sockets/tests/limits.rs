//! The message limits of a receiving socket: MAXMSGSIZE on the whole message and the
//! frame cap (`MaxFramesPerMsg`, ringmq-specific). A peer over a limit loses its
//! connection with a reason that says which limit; a peer within them keeps being
//! served meanwhile.

mod common;

use bytes::Bytes;
use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Error, Message, MonitorEventKind, SocketOption};

async fn over_a_limit_costs_only_that_peer<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::MaxMsgSize(Some(1000)))
        .unwrap();
    pull.set_option(SocketOption::MaxFramesPerMsg(Some(4)))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let good = ctx.push();
    good.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    let within = |i: u8| -> Message {
        vec![
            Bytes::from(vec![i; 500]),
            Bytes::from(vec![i; 500]),
            Bytes::new(),
            Bytes::new(),
        ]
        .into()
    };
    good.send(within(0)).await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames(), within(0).frames());
    let bad_messages: [(Message, &[&str]); 2] = [
        (
            vec![Bytes::from_static(b"f"); 5].into(),
            &["more than 4 frames", "TooManyFrames"],
        ),
        (
            vec![Bytes::from(vec![1u8; 600]), Bytes::from(vec![2u8; 600])].into(),
            &["message of at least 1200 bytes", "MessageTooLarge"],
        ),
    ];
    for (i, (msg, why)) in bad_messages.into_iter().enumerate() {
        let bad = ctx.push();
        bad.connect(&ep).unwrap();
        wait_handshakes(&p, &mon, 1).await;
        bad.send(msg).await.unwrap();
        let e = wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::Disconnected { .. })
        })
        .await;
        let said = format!("{e:?}");
        assert!(why.iter().any(|w| said.contains(w)), "{said}");
        // The good peer is still served, and nothing of the bad message arrived.
        let n = i as u8 + 1;
        good.send(within(n)).await.unwrap();
        assert_eq!(pull.recv().await.unwrap().frames(), within(n).frames());
        drop(bad);
    }
}

async fn frame_cap_option_is_checked<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let e = pull
        .set_option(SocketOption::MaxFramesPerMsg(Some(0)))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidOption { option, .. } if option.starts_with("RINGMQ_")));
    pull.set_option(SocketOption::MaxFramesPerMsg(None))
        .unwrap();
    // Unlimited: far more frames than the default cap.
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let n = ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES as usize + 1;
    push.send(Message::from(vec![Bytes::new(); n]))
        .await
        .unwrap();
    assert_eq!(pull.recv().await.unwrap().len(), n);
}

backend_tests!(
    over_a_limit_costs_only_that_peer,
    frame_cap_option_is_checked
);
