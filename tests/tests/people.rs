//! People and giving across real nodes: six members of two organisations share a space over
//! libp2p on 127.0.0.1 (mDNS off). Who knows about a topic, which members a new question is
//! offered to (the same on every member's machine), the daily limit, the next day's round, the
//! inbox, records and a space's health.
//!
//! One test in this binary: it moves the process's clock forward a day (`clock::advance`).

use std::collections::BTreeMap;

use tacit_node::core::{Draft, MemberId, ProfileEdit, Role};
use tacit_node::{InboxKind, Node, Request, Response, RouteInfo, clock};
use tacit_tests::nodes::*;

const DAY: i64 = 24 * 60 * 60 * 1000;

async fn ask_question(node: &Node, space: &str, title: &str, tag: &str) -> String {
    let req = Request::Ask {
        draft: Draft {
            title: title.into(),
            body: String::new(),
            tags: vec![tag.into()],
            aliases: Vec::new(),
        },
        space: Some(space.into()),
    };
    match ask(node, req).await {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

async fn answer(node: &Node, question: &str, body: &str) -> String {
    let req = Request::Answer {
        question: question.into(),
        body: body.into(),
    };
    match ask(node, req).await {
        Response::Answered { id, .. } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

/// Waits until `node` holds question `q` with `answers` answers and `thanks` thanks in all.
async fn question_reaches(node: &Node, q: &str, answers: usize, thanks: usize) {
    until(&format!("question {q} with {answers} answers"), || async {
        match node.execute(Request::QuestionShow { id: q.into() }).await {
            Ok(Response::Question(v)) => {
                v.answers.len() == answers
                    && v.answers.iter().map(|a| a.thanked_by.len()).sum::<usize>() == thanks
            }
            _ => false,
        }
    })
    .await;
}

async fn who(node: &Node, topic: &str) -> Vec<MemberId> {
    let req = Request::Who {
        topic: topic.into(),
        space: None,
        limit: None,
    };
    match ask(node, req).await {
        Response::Experts { items } => items.iter().map(|e| e.member).collect(),
        other => panic!("{other:?}"),
    }
}

async fn routes(node: &Node, q: &str) -> Vec<RouteInfo> {
    match ask(node, Request::QuestionRoutes { question: q.into() }).await {
        Response::Routes { items, .. } => items,
        other => panic!("{other:?}"),
    }
}

fn offered(r: &[RouteInfo], round: u32) -> Vec<MemberId> {
    r.iter()
        .filter(|r| r.round == round)
        .map(|r| r.member)
        .collect()
}

async fn routed_inbox(node: &Node) -> Vec<String> {
    match ask(node, Request::Inbox).await {
        Response::Inbox { items, .. } => items
            .into_iter()
            .filter(|i| i.kind == InboxKind::Routed)
            .map(|i| i.question.to_string())
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_reach_the_people_who_know_and_credit_follows_the_giver() {
    let dirs: Vec<_> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    // Ada, Bo and Fay work at one company; Eve, Cy and Dee at a partner.
    let ada = node(dirs[0].path(), "Ada").await;
    let bo = node(dirs[1].path(), "Bo").await;
    let eve = node(dirs[2].path(), "Eve").await;
    let cy = node(dirs[3].path(), "Cy").await;
    let dee = node(dirs[4].path(), "Dee").await;
    let fay = node(dirs[5].path(), "Fay").await;
    let all = [&ada, &bo, &eve, &cy, &dee, &fay];
    let space = space_new(&ada, "Platform").await;
    for n in &all[1..] {
        let ticket = invite(&ada, &space, Role::Editor).await;
        join(n, &ticket).await.expect("join");
    }
    for (n, org) in all.iter().zip([
        "Acme",
        "Acme",
        "Partner Co",
        "Partner Co",
        "Partner Co",
        "Acme",
    ]) {
        let edit = ProfileEdit {
            org: Some(org.into()),
            ..ProfileEdit::default()
        };
        ask(n, Request::ProfileSet { edit }).await;
    }
    // Dee lists TLS as expertise but has not answered anything yet.
    ask(
        &dee,
        Request::ProfileSet {
            edit: ProfileEdit {
                expertise: Some(vec!["tls".into()]),
                ..ProfileEdit::default()
            },
        },
    )
    .await;
    let [ida, ibo, ieve, icy, idee, _ifay] = {
        let mut ids = Vec::new();
        for n in &all {
            ids.push(member_id(n).await);
        }
        <[MemberId; 6]>::try_from(ids).unwrap()
    };

    // Ada asks; Bo and Eve answer; Ada accepts Bo's and thanks both.
    let q1 = ask_question(&ada, &space, "How do we rotate the TLS cert?", "tls").await;
    question_reaches(&bo, &q1, 0, 0).await;
    question_reaches(&eve, &q1, 0, 0).await;
    let a_bo = answer(&bo, &q1, "Run the rotate playbook, then reload nginx.").await;
    let a_eve = answer(&eve, &q1, "certbot renew works for the staging hosts.").await;
    question_reaches(&ada, &q1, 2, 0).await;
    let accept = Request::Accept {
        question: q1.clone(),
        answer: a_bo.clone(),
    };
    ask(&ada, accept).await;
    for a in [&a_bo, &a_eve] {
        let thank = Request::Thank {
            question: q1.clone(),
            answer: a.clone(),
        };
        ask(&ada, thank).await;
    }
    // Bo thanks his own answer (refused) and answers again, twice: no more credit.
    let own = Request::Thank {
        question: q1.clone(),
        answer: a_bo.clone(),
    };
    assert!(bo.execute(own).await.is_err(), "nobody thanks themselves");
    // Cy writes a note on TLS.
    let note = Request::NoteNew {
        draft: Draft {
            title: "TLS cipher suites we allow".into(),
            body: "ECDHE only.".into(),
            tags: vec!["tls".into()],
            aliases: Vec::new(),
        },
        space: Some(space.clone()),
    };
    let cy_note = match ask(&cy, note).await {
        Response::Created { id } => id.to_string(),
        other => panic!("{other:?}"),
    };
    for n in &all {
        question_reaches(n, &q1, 2, 2).await;
        until("Cy's note everywhere", || async {
            body(n, &cy_note).await.is_some()
        })
        .await;
    }

    // Who knows about TLS: the accepted answer first, then the thanked one, then declared
    // expertise, then the note, then the asker — the same on every member's machine, in both
    // organisations.
    let want = [ibo, ieve, idee, icy, ida];
    for n in &all {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = who(n, "#tls").await;
            if got == want {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expert order {got:?}, want {want:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let reasons = match ask(
        &cy,
        Request::Who {
            topic: "#tls".into(),
            space: Some(space.clone()),
            limit: Some(1),
        },
    )
    .await
    {
        Response::Experts { items } => items,
        other => panic!("{other:?}"),
    };
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].reasons[0]
            .text
            .starts_with("1 accepted answer on #tls"),
        "{:?}",
        reasons[0].reasons
    );

    // A new question on TLS is offered at once to the three who know best, never the asker,
    // and every member computes the same offers. (Its title shares no word with earlier work:
    // title words count too, and "TLS" in a title would lift Cy's note above Dee's claim.)
    let q2 = ask_question(&ada, &space, "Which versions do partners need?", "tls").await;
    for n in &all {
        question_reaches(n, &q2, 0, 0).await;
    }
    let r2 = routes(&ada, &q2).await;
    assert_eq!(offered(&r2, 0), [ibo, ieve, idee], "{r2:?}");
    for n in &all[1..] {
        assert_eq!(
            routes(n, &q2).await,
            r2,
            "every member computes the same offers"
        );
    }
    assert!(routed_inbox(&bo).await.contains(&q2), "Bo's inbox holds it");
    assert!(!routed_inbox(&ada).await.contains(&q2), "not the asker's");

    // Four more the same day: nobody is offered more than three questions a day.
    let mut qs = vec![q1.clone(), q2.clone()];
    for i in 0..4 {
        qs.push(ask_question(&ada, &space, &format!("TLS question {i}"), "tls").await);
    }
    for q in &qs {
        question_reaches(
            &bo,
            q,
            if *q == q1 { 2 } else { 0 },
            if *q == q1 { 2 } else { 0 },
        )
        .await;
    }
    let mut per_day: BTreeMap<(MemberId, i64), u32> = BTreeMap::new();
    let mut any_round_one = false;
    for q in &qs {
        for r in routes(&bo, q).await {
            assert_ne!(
                r.member, ida,
                "the asker is never offered their own question"
            );
            *per_day.entry((r.member, r.at.div_euclid(DAY))).or_default() += 1;
            any_round_one |= r.round > 0;
        }
    }
    assert!(per_day.values().all(|n| *n <= 3), "{per_day:?}");
    assert!(!any_round_one, "no second round on the day of asking");
    assert_eq!(
        per_day.get(&(ibo, per_day.keys().next().unwrap().1)),
        Some(&3)
    );

    // A day later, unanswered: the question moves on to those not yet offered it.
    clock::advance(DAY + 60_000);
    let later = routes(&eve, &q2).await;
    assert_eq!(offered(&later, 0), [ibo, ieve, idee]);
    assert_eq!(offered(&later, 1), [icy], "{later:?}");
    assert!(
        routed_inbox(&cy).await.contains(&q2),
        "Cy's inbox holds it now"
    );

    // Records: the giver's credit, as every member sees it.
    for n in &all {
        let rec = match ask(
            n,
            Request::Record {
                member: Some(ibo.to_string()),
                space: None,
            },
        )
        .await
        {
            Response::Record(r) => r,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (
                rec.record.answers,
                rec.record.accepted,
                rec.record.thanks_received
            ),
            (1, 1, 1),
            "{rec:?}"
        );
    }
    // A signed record statement checks out, and a tampered one does not.
    let statement = match ask(&bo, Request::RecordExport).await {
        Response::RecordStatement { statement } => statement,
        other => panic!("{other:?}"),
    };
    let verified = ask(
        &eve,
        Request::RecordVerify {
            statement: statement.clone(),
        },
    )
    .await;
    assert!(
        matches!(&verified, Response::RecordVerified(s) if s.member == ibo && s.record.accepted == 1),
        "{verified:?}"
    );
    let mut value: serde_json::Value = serde_json::from_str(&statement).unwrap();
    value["record"]["accepted"] = 9.into();
    let tampered = value.to_string();
    assert!(
        eve.execute(Request::RecordVerify {
            statement: tampered
        })
        .await
        .is_err(),
        "a changed record fails its signature"
    );

    // The people page on Ada's machine shows the partner organisation's members as partners.
    until("profiles to travel", || async {
        match ada
            .execute(Request::People {
                space: space.clone(),
            })
            .await
        {
            Ok(Response::People { items, .. }) => {
                items.len() == 6
                    && items
                        .iter()
                        .all(|p| p.partner == [ieve, icy, idee].contains(&p.member))
            }
            _ => false,
        }
    })
    .await;

    // Health: six members, four gave (Fay only reads); one of six questions answered.
    let health = match ask(
        &dee,
        Request::SpaceHealth {
            space: space.clone(),
        },
    )
    .await
    {
        Response::Health(h) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(health.health.members, 6);
    assert_eq!(health.health.questions, 6);
    assert_eq!(health.health.answered, 1);
    assert!(health.health.givers_30d >= 3, "{health:?}");
    assert_eq!(health.unanswered_titles.len(), 5);
}
