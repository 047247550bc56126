//! The seeded state the targets run against, built once per process from fixed keys and times,
//! so that a crasher replays the same way on every machine.
//!
//! A space created by `owner` with an editor and a reader admitted through invitations, and one
//! open invitation whose secret the fixture holds (a stranger who holds it can ask to join); a
//! note written by the owner and edited by the editor, every change signed; a question with an
//! answer; the editor's profile.

use std::sync::OnceLock;

use tacit_core::{
    ChangeSig, DeviceKey, Doc, DocId, Draft, Edit, InviteKey, MemberId, Membership, NoteEdit, Op,
    OpBody, OpHash, PROFILE_SCOPE, ProfileEdit, Role, SignedOp, SpaceId, space_id_for,
};

/// The fixed time the fixture's ops and changes are made at (ms since the epoch).
pub const T0: i64 = 1_800_000_000_000;

/// Everything the targets are seeded with.
pub struct Fixture {
    /// The space's creator and only owner.
    pub owner: DeviceKey,
    /// An editor of the space.
    pub editor: DeviceKey,
    /// A reader of the space.
    pub reader: DeviceKey,
    /// A key that is no member of the space.
    pub stranger: DeviceKey,
    /// The space.
    pub space: SpaceId,
    /// Its ops, as a member holds them.
    pub ops: Vec<SignedOp>,
    /// Their fold.
    pub membership: Membership,
    /// An invitation (editor role, any number of uses) that nobody used yet.
    pub open_invite: OpHash,
    /// Its secret, as a ticket carries it.
    pub open_secret: [u8; 32],
    /// The note's id.
    pub note_id: DocId,
    /// The note as the owner wrote it (before the editor's edits): the receiving side of sync.
    pub note_base: Vec<u8>,
    /// The editor's edits to the note as an increment after `note_base`.
    pub note_increment: Vec<u8>,
    /// The note with the editor's edits.
    pub note_full: Vec<u8>,
    /// Signatures of every change of the note.
    pub note_sigs: Vec<ChangeSig>,
    /// A question with an answer.
    pub question_id: DocId,
    /// Its bytes.
    pub question: Vec<u8>,
    /// Signatures of its changes.
    pub question_sigs: Vec<ChangeSig>,
    /// The editor's profile.
    pub profile: Vec<u8>,
    /// Signatures of its changes (in [`PROFILE_SCOPE`]).
    pub profile_sigs: Vec<ChangeSig>,
}

impl Fixture {
    /// The four keys, in the order the ops target names them: owner, editor, reader, stranger.
    pub fn keys(&self) -> [&DeviceKey; 4] {
        [&self.owner, &self.editor, &self.reader, &self.stranger]
    }

    /// The key of `member`, if it is one of the fixture's.
    pub fn key_of(&self, member: &MemberId) -> Option<&DeviceKey> {
        self.keys().into_iter().find(|k| k.member_id() == *member)
    }

    /// Signatures of every change of `doc` by a fixture key, in `scope`.
    fn sign_all(&self, doc: &mut Doc, scope: SpaceId) -> Vec<ChangeSig> {
        let changes = doc.changes_since(&[]);
        self.keys()
            .into_iter()
            .flat_map(|k| doc.sign_changes(k, scope, &changes))
            .collect()
    }
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn sign(key: &DeviceKey, space: SpaceId, deps: Vec<OpHash>, body: OpBody) -> SignedOp {
    SignedOp::sign(
        key,
        Op {
            space,
            author: key.member_id(),
            at: T0,
            deps,
            body,
        },
    )
    .expect("the fixture's ops are valid")
}

/// The owner invites with `role` (a one-use invitation), `joiner` joins, the owner admits it.
fn admit(
    ops: &mut Vec<SignedOp>,
    owner: &DeviceKey,
    joiner: &DeviceKey,
    role: Role,
    space: SpaceId,
) {
    let secret = [joiner.secret()[0]; 32];
    let invite = sign(
        owner,
        space,
        heads(space, ops),
        OpBody::Invite {
            role,
            expires_at: Some(T0 + 86_400_000),
            uses: Some(1),
            key: InviteKey::from_secret(&secret).public(),
        },
    );
    let invite_hash = invite.hash();
    ops.push(invite);
    let join = sign(
        joiner,
        space,
        Vec::new(),
        OpBody::Join {
            invite: invite_hash,
            proof: InviteKey::from_secret(&secret).prove(space, invite_hash, joiner.member_id()),
            member_name: format!("Member {}", joiner.secret()[0]),
            member_org: "Analytical Engines".into(),
        },
    );
    let join_hash = join.hash();
    ops.push(join);
    let admit = sign(
        owner,
        space,
        heads(space, ops),
        OpBody::Admit { join: join_hash },
    );
    ops.push(admit);
}

fn heads(space: SpaceId, ops: &[SignedOp]) -> Vec<OpHash> {
    Membership::fold(space, ops.iter()).heads()
}

fn build() -> Fixture {
    let owner = DeviceKey::from_secret([1; 32]);
    let editor = DeviceKey::from_secret([2; 32]);
    let reader = DeviceKey::from_secret([3; 32]);
    let stranger = DeviceKey::from_secret([4; 32]);
    let nonce = [7u8; 16];
    let space = space_id_for(&owner.member_id(), &nonce);
    let mut ops = vec![sign(
        &owner,
        space,
        Vec::new(),
        OpBody::Create {
            name: "Platform".into(),
            nonce,
            member_name: "Ada".into(),
            member_org: "Analytical Engines".into(),
        },
    )];
    admit(&mut ops, &owner, &editor, Role::Editor, space);
    admit(&mut ops, &owner, &reader, Role::Reader, space);
    let open_secret = [9u8; 32];
    let open = sign(
        &owner,
        space,
        heads(space, &ops),
        OpBody::Invite {
            role: Role::Editor,
            expires_at: None,
            uses: None,
            key: InviteKey::from_secret(&open_secret).public(),
        },
    );
    let open_invite = open.hash();
    ops.push(open);
    let membership = Membership::fold(space, ops.iter());
    assert_eq!(membership.role(&owner.member_id()), Some(Role::Owner));
    assert_eq!(membership.role(&editor.member_id()), Some(Role::Editor));
    assert_eq!(membership.role(&reader.member_id()), Some(Role::Reader));
    let under = membership.heads();

    let note_id = DocId::from_bytes([0x11; 16]);
    let by_owner = Edit {
        by: owner.member_id(),
        at: T0,
        under: &under,
    };
    let mut note = Doc::new_note(
        note_id,
        by_owner,
        Draft {
            title: "Deploy checklist".into(),
            body: "1. build\n2. test #ops\n3. ship, see [[Runbook]] and [[Rollback|back]]".into(),
            tags: vec!["ops".into()],
            aliases: vec!["deploy".into()],
        },
    )
    .expect("a valid note");
    let note_base = note.save();
    let mut theirs =
        Doc::load(note_id, [note_base.as_slice()], editor.member_id()).expect("the note loads");
    for (i, body) in [
        "1. build\n2. test #ops #ci\n3. ship, see [[Runbook]]",
        "1. build\n2. test #ops #ci\n3. ship, see [[Runbook]]\n4. tell #support",
    ]
    .into_iter()
    .enumerate()
    {
        let by_editor = Edit {
            by: editor.member_id(),
            at: T0 + 60_000 * (i as i64 + 1),
            under: &under,
        };
        theirs
            .edit_text(
                by_editor,
                NoteEdit {
                    body: Some(body.into()),
                    title: (i == 1).then(|| "Deploy checklist (v2)".into()),
                    ..NoteEdit::default()
                },
            )
            .expect("a valid edit");
    }
    let note_increment = theirs.take_unsaved().unwrap_or_default();
    let note_full = theirs.save();

    let question_id = DocId::from_bytes([0x22; 16]);
    let mut question = Doc::new_question(
        question_id,
        Edit {
            by: reader.member_id(),
            at: T0,
            under: &under,
        },
        Draft {
            title: "How do we rotate the TLS cert?".into(),
            body: "Asked in [[Ops]]".into(),
            tags: vec!["tls".into()],
            aliases: Vec::new(),
        },
    )
    .expect("a valid question");
    let answer = question
        .add_answer(
            Edit {
                by: editor.member_id(),
                at: T0 + 1000,
                under: &under,
            },
            "Run the [[rotate playbook]].",
        )
        .expect("a valid answer");
    question
        .thank(
            Edit {
                by: owner.member_id(),
                at: T0 + 2000,
                under: &under,
            },
            answer,
        )
        .expect("a valid thanks");

    let mut profile = Doc::new_profile(
        Edit::new(editor.member_id(), T0),
        ProfileEdit {
            name: Some("Grace".into()),
            org: Some("Analytical Engines".into()),
            bio: Some("Compilers, #ops".into()),
            expertise: Some(vec!["rust".into(), "ops".into()]),
            questions_per_day: Some(3),
        },
    )
    .expect("a valid profile");

    let mut fx = Fixture {
        owner,
        editor,
        reader,
        stranger,
        space,
        ops,
        membership,
        open_invite,
        open_secret,
        note_id,
        note_base,
        note_increment,
        note_full,
        note_sigs: Vec::new(),
        question_id,
        question: question.save(),
        question_sigs: Vec::new(),
        profile: profile.save(),
        profile_sigs: Vec::new(),
    };
    fx.note_sigs = fx.sign_all(&mut theirs, space);
    fx.question_sigs = fx.sign_all(&mut question, space);
    fx.profile_sigs = fx.sign_all(&mut profile, PROFILE_SCOPE);
    fx
}
