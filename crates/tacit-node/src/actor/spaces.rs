//! The actor's side of shared spaces a user acts on: create, list, show, invite, remove, leave;
//! naming a space by id, prefix or name; and the write rights every document change checks.

use std::collections::BTreeSet;

/// Meta key (followed by the space id) of a space's stale-after setting, in days.
const STALE_META: &str = "stale_after_days/";
/// An answer not confirmed as still right for half a year is marked possibly stale.
pub(crate) const DEFAULT_STALE_DAYS: u32 = 182;
use std::sync::Arc;

use tacit_core::{
    DocId, InviteKey, MAX_ADDR_BYTES, MAX_TICKET_ADDRS, MemberId, Membership, Op, OpBody, OpHash,
    Role, SignedOp, SpaceId, Ticket, new_secret, new_space,
};
use tacit_store::SpaceRow;

use super::{Actor, Outcome};
use crate::api::{
    InviteInfo, MemberInfo, Response, SpaceDetail, SpaceDigest, SpaceInfo, SyncState,
};
use crate::base::now_ms;
use crate::error::NodeError;
use crate::membership::{Shared, publish_members};
use crate::netview::NetView;
use crate::replica::Replicated;

impl Actor {
    pub(super) fn net_view(&self) -> NetView {
        self.info.net.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The space named by an id, a unique id prefix (4+ hex digits) or a name; the personal
    /// space when `None`.
    pub(super) fn space_ref(&self, name: Option<&str>) -> Result<SpaceId, NodeError> {
        let Some(name) = name.map(str::trim) else {
            return Ok(self.info.personal);
        };
        let personal = self.info.personal;
        let all = || std::iter::once(personal).chain(self.spaces.keys().copied());
        let lower = name.to_ascii_lowercase();
        if let Ok(id) = lower.parse::<SpaceId>()
            && all().any(|s| s == id)
        {
            return Ok(id);
        }
        let by_name: Vec<SpaceId> = all()
            .filter(|s| self.space_name(*s).eq_ignore_ascii_case(name))
            .collect();
        let by_prefix: Vec<SpaceId> =
            if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                all()
                    .filter(|s| s.to_string().starts_with(&lower))
                    .collect()
            } else {
                Vec::new()
            };
        match (by_name.as_slice(), by_prefix.as_slice()) {
            ([one], _) | ([], [one]) => Ok(*one),
            ([], []) => Err(NodeError::NotFound(format!(
                "no space {name:?}; `tacit space list` shows yours"
            ))),
            _ => Err(NodeError::NotFound(format!(
                "{name:?} names several spaces; give more of the id"
            ))),
        }
    }

    pub(super) fn space_name(&self, space: SpaceId) -> String {
        if space == self.info.personal {
            return "Personal".into();
        }
        self.spaces
            .get(&space)
            .map(|s| s.row.name.clone())
            .unwrap_or_default()
    }

    /// Refuses a document change in a space where this member may not write.
    pub(super) fn check_write(&self, space: SpaceId) -> Result<(), NodeError> {
        if space == self.info.personal {
            return Ok(());
        }
        let Some(shared) = self.spaces.get(&space) else {
            return Err(NodeError::NotFound(format!(
                "this home does not belong to space {space}"
            )));
        };
        if shared.legacy {
            return Err(NodeError::Refused(format!(
                "{:?} was made by an older Tacit and no longer syncs; create a new space to share again",
                shared.row.name
            )));
        }
        match shared.membership.role(&self.info.member) {
            Some(role) if role.can_write() => Ok(()),
            Some(_) => Err(NodeError::Refused(format!(
                "you are a reader in {:?}: only editors and owners write there",
                shared.row.name
            ))),
            None => Err(NodeError::Refused(format!(
                "you are no longer a member of {:?}",
                shared.row.name
            ))),
        }
    }

    fn shared(&self, space: SpaceId) -> Result<&Shared, NodeError> {
        self.spaces.get(&space).ok_or_else(|| {
            if space == self.info.personal {
                NodeError::Refused("the personal space is yours alone: it has no members".into())
            } else {
                NodeError::NotFound(format!("this home does not belong to space {space}"))
            }
        })
    }

    /// A member's profile, if this home holds it (its own, or one synced in a shared space).
    pub(super) fn profile_of(&mut self, member: MemberId) -> Option<tacit_core::ProfileView> {
        self.profile_doc(member)?.profile().ok()
    }

    /// A member's name and organisation from their profile, if this home holds it (read
    /// without the rest of the profile).
    pub(super) fn profile_name_of(&mut self, member: MemberId) -> Option<(String, String)> {
        self.profile_doc(member)?.profile_name().ok()
    }

    /// A member's profile document, if this home holds one.
    fn profile_doc(&mut self, member: MemberId) -> Option<&mut tacit_core::Doc> {
        let id = tacit_core::Doc::profile_id(member);
        match self.store.get(id) {
            Ok(Some(l)) if l.summary.kind == tacit_core::Kind::Profile => self.doc(id).ok(),
            _ => None,
        }
    }

    fn profile_names(&mut self) -> (String, String) {
        match self.identity() {
            Ok(i) => (i.profile.name, i.profile.org),
            Err(_) => (String::new(), String::new()),
        }
    }

    pub(super) fn space_new(&mut self, name: &str) -> Result<Outcome, NodeError> {
        self.flush();
        let (member_name, member_org) = self.profile_names();
        let now = now_ms();
        let (id, op) = new_space(&self.key, name.trim(), &member_name, &member_org, now)?;
        let row = SpaceRow {
            id,
            name: name.trim().to_owned(),
            personal: false,
            created_at: now,
        };
        self.store
            .add_shared_space(&row, &[(op.hash().0, op.to_bytes())])?;
        let shared = Shared::new(row.clone(), vec![op]);
        self.spaces.insert(id, shared);
        self.membership_changed(id);
        Ok(Outcome::read(Response::SpaceCreated { id, name: row.name }))
    }

    /// Signs an op for a space, stores it and refolds. The op must be valid in the fold, or
    /// nothing is stored.
    fn sign_op(&mut self, space: SpaceId, body: OpBody) -> Result<SignedOp, NodeError> {
        self.flush();
        let shared = self.shared(space)?;
        if shared.legacy {
            return Err(NodeError::Refused(format!(
                "{:?} was made by an older Tacit and no longer syncs; create a new space to share again",
                shared.row.name
            )));
        }
        let op = SignedOp::sign(
            &self.key,
            Op {
                space,
                author: self.info.member,
                at: now_ms(),
                deps: shared.membership.heads(),
                body,
            },
        )?;
        let mut ops = shared.ops.clone();
        ops.push(op.clone());
        if !Membership::fold(space, ops.iter())
            .applied()
            .contains(&op.hash())
        {
            return Err(NodeError::Refused(
                "that change to the membership is not allowed".into(),
            ));
        }
        self.store.add_ops(space, &[(op.hash().0, op.to_bytes())])?;
        if let Some(shared) = self.spaces.get_mut(&space) {
            shared.add([op.clone()]);
        }
        Ok(op)
    }

    /// Tells the UI and the sync sessions that a space's membership changed.
    pub(super) fn membership_changed(&mut self, space: SpaceId) {
        // The members' profiles are among its reconciliation items: build them again.
        self.items.remove(&space);
        self.people.invalidate(Some(space));
        self.people.names = None;
        publish_members(&self.info, &self.spaces);
        self.book_new_members();
        let ops = self
            .spaces
            .get(&space)
            .map(Shared::op_bytes)
            .unwrap_or_default();
        self.announce(crate::api::Event::SpacesChanged { space });
        let _ = self.replica.send(Replicated::Membership {
            space,
            ops: Arc::new(ops),
        });
        self.evict_profile_squatters(Some(space));
    }

    /// Removes the documents that sit at the profile id of a member of `space` (of every space
    /// when `None`) without being a profile. A profile's id follows from its member's id, so a
    /// hostile member who learns a newcomer's id before this node learns of the admission (an
    /// owner who invited them and holds the admission back) can make a note there first; once
    /// the newcomer is a member, such a document is refused (`judge`), and one held from
    /// before is removed here, so that their real profile is taken when it comes.
    pub(super) fn evict_profile_squatters(&mut self, space: Option<SpaceId>) {
        let ids: Vec<tacit_core::DocId> = self
            .spaces
            .values()
            .filter(|s| !s.legacy && space.is_none_or(|id| s.row.id == id))
            .flat_map(|s| s.membership.members().keys().copied())
            .map(tacit_core::Doc::profile_id)
            .collect();
        if ids.is_empty() {
            return;
        }
        self.flush(); // a squatting note may be in the group commit under way
        for id in ids {
            let squatter = match self.store.get(id) {
                Ok(Some(listed)) if listed.summary.kind != tacit_core::Kind::Profile => listed,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(%id, "cannot look for a document at a member's profile id: {e}");
                    continue;
                }
            };
            tracing::warn!(%id, kind = ?squatter.summary.kind, "removed a document at a member's profile id that is not their profile");
            if let Err(e) = self.forget_doc(squatter.space, id) {
                tracing::warn!(%id, "cannot remove a document at a member's profile id: {e}");
            }
        }
    }

    pub(super) fn space_invite(
        &mut self,
        space: &str,
        role: Role,
        expires_in: Option<u64>,
        uses: Option<u32>,
    ) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let shared = self.shared(space)?;
        if shared.membership.role(&self.info.member) != Some(Role::Owner) {
            return Err(NodeError::Refused(format!(
                "only owners invite to {:?}",
                shared.row.name
            )));
        }
        let name = shared.row.name.clone();
        if uses == Some(0) {
            return Err(NodeError::Invalid(
                "an invitation for 0 uses admits nobody".into(),
            ));
        }
        let expires_at =
            expires_in.map(|ms| now_ms().saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)));
        let secret = new_secret();
        let op = self.sign_op(
            space,
            OpBody::Invite {
                role,
                expires_at,
                uses,
                key: InviteKey::from_secret(&secret).public(),
            },
        )?;
        self.membership_changed(space);
        let ticket = Ticket {
            space,
            name,
            invite: op.hash(),
            secret,
            role,
            expires_at,
            inviter: self.info.member,
            addrs: self.ticket_addrs(space),
        };
        Ok(Outcome::read(Response::Ticket {
            ticket: ticket.to_string(),
            expires_at,
        }))
    }

    /// Where a joiner may reach this node: its own addresses only. A ticket is passed on
    /// through chat and mail; it must not tell whoever reads it who else is in the space or
    /// where they are.
    fn ticket_addrs(&self, _space: SpaceId) -> Vec<String> {
        let mut addrs: Vec<String> = self
            .net_view()
            .advertised()
            .into_iter()
            .filter(|a| a.len() <= MAX_ADDR_BYTES)
            .collect();
        addrs.truncate(MAX_TICKET_ADDRS);
        addrs
    }

    fn member_ref(&self, space: SpaceId, name: &str) -> Result<MemberId, NodeError> {
        let shared = self.shared(space)?;
        let lower = name.trim().to_ascii_lowercase();
        let found: Vec<MemberId> = shared
            .membership
            .members()
            .iter()
            .filter(|(id, m)| {
                id.to_string().starts_with(&lower) && lower.len() >= 4
                    || m.name.eq_ignore_ascii_case(name.trim())
            })
            .map(|(id, _)| *id)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(NodeError::NotFound(format!(
                "{name:?} is not a member of {:?}",
                shared.row.name
            ))),
            _ => Err(NodeError::NotFound(format!(
                "{name:?} names several members; give more of the member id"
            ))),
        }
    }

    pub(super) fn space_remove(&mut self, space: &str, member: &str) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let member = self.member_ref(space, member)?;
        if member == self.info.member {
            return Err(NodeError::Invalid(
                "to remove yourself, leave the space (`tacit space leave`)".into(),
            ));
        }
        let shared = self.shared(space)?;
        if shared.membership.role(&self.info.member) != Some(Role::Owner) {
            return Err(NodeError::Refused(format!(
                "only owners remove members of {:?}",
                shared.row.name
            )));
        }
        let cut = self.cut_of(space, member)?;
        self.sign_op(space, OpBody::Remove { member, cut })?;
        self.membership_changed(space);
        Ok(Outcome::read(Response::Space(self.space_detail(space)?)))
    }

    /// Changes a member's role (owners only). Taking write rights records the member's cut.
    pub(super) fn space_role(
        &mut self,
        space: &str,
        member: &str,
        role: Role,
    ) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let member = self.member_ref(space, member)?;
        let shared = self.shared(space)?;
        if shared.membership.role(&self.info.member) != Some(Role::Owner) {
            return Err(NodeError::Refused(format!(
                "only owners change roles in {:?}",
                shared.row.name
            )));
        }
        let was = shared.membership.role(&member);
        if was == Some(role) {
            return Ok(Outcome::read(Response::Space(self.space_detail(space)?)));
        }
        let cut = if was.is_some_and(Role::can_write) && !role.can_write() {
            self.cut_of(space, member)?
        } else {
            Vec::new()
        };
        self.sign_op(space, OpBody::SetRole { member, role, cut })?;
        self.membership_changed(space);
        Ok(Outcome::read(Response::Space(self.space_detail(space)?)))
    }

    /// The invitations of a space that can still admit someone.
    pub(super) fn space_invites(&mut self, space: &str) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let names = self.shown_names();
        let shared = self.shared(space)?;
        let now = now_ms();
        let mut items: Vec<InviteInfo> = shared
            .membership
            .invites()
            .iter()
            .filter(|(id, _)| shared.membership.invite_usable(id, now).is_ok())
            .map(|(id, i)| InviteInfo {
                id: *id,
                role: i.role,
                expires_at: i.expires_at,
                uses: i.uses,
                uses_left: i.uses.map(|n| n.saturating_sub(i.used)),
                used: i.used,
                by: i.by,
                by_name: names.get(&i.by).map(|(n, _)| n.clone()).unwrap_or_default(),
                created_at: i.at,
            })
            .collect();
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at));
        Ok(Outcome::read(Response::Invites { space, items }))
    }

    /// Withdraws an invitation (owners only): nobody is admitted through it any more.
    pub(super) fn space_revoke_invite(
        &mut self,
        space: &str,
        invite: &str,
    ) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let shared = self.shared(space)?;
        if shared.membership.role(&self.info.member) != Some(Role::Owner) {
            return Err(NodeError::Refused(format!(
                "only owners withdraw invitations of {:?}",
                shared.row.name
            )));
        }
        let wanted = invite.trim().to_ascii_lowercase();
        let found: Vec<OpHash> = shared
            .membership
            .invites()
            .keys()
            .filter(|h| wanted.len() >= 4 && h.to_string().starts_with(&wanted))
            .copied()
            .collect();
        let invite = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(NodeError::NotFound(format!(
                    "{:?} has no invitation {invite:?}; `tacit space invites` lists them",
                    shared.row.name
                )));
            }
            _ => {
                return Err(NodeError::NotFound(format!(
                    "{invite:?} names several invitations; give more of the id"
                )));
            }
        };
        if shared.membership.invites()[&invite].withdrawn {
            return self.space_invites(&space.to_string());
        }
        self.sign_op(space, OpBody::Withdraw { invite })?;
        self.membership_changed(space);
        self.space_invites(&space.to_string())
    }

    pub(super) fn space_leave(&mut self, space: &str) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let member = self.info.member;
        let cut = self.cut_of(space, member)?;
        self.sign_op(space, OpBody::Remove { member, cut })?;
        let detail = self.space_detail(space)?;
        // Peers connected now learn of the departure from the op set sent with this event;
        // then the space and everything in it leave this home.
        self.membership_changed(space);
        self.store.remove_space(space)?;
        if let Some(search) = &self.search {
            search.send(crate::search::Job::RemoveSpace(space));
        }
        self.spaces.remove(&space);
        self.items.remove(&space);
        self.cache.clear();
        self.announce(crate::api::Event::SpacesChanged { space });
        Ok(Outcome::read(Response::Space(detail)))
    }

    /// Every space: the personal one first, then the shared ones by name.
    pub(super) fn space_infos(&self) -> Vec<SpaceInfo> {
        let view = self.net_view();
        let personal = SpaceInfo {
            id: self.info.personal,
            name: "Personal".into(),
            personal: true,
            role: Role::Owner,
            members: 1,
            connected: 0,
            sync: SyncState::Local,
            stale_after_days: self.stale_after_days(self.info.personal),
        };
        let mut shared: Vec<SpaceInfo> = self
            .spaces
            .values()
            .map(|s| self.info_of(s, &view))
            .collect();
        shared.sort_by_key(|s| s.name.to_lowercase());
        std::iter::once(personal).chain(shared).collect()
    }

    fn info_of(&self, s: &Shared, view: &NetView) -> SpaceInfo {
        let (connected, sync) = if s.legacy {
            (0, SyncState::Legacy)
        } else if !s.membership.is_member(&self.info.member) {
            (0, SyncState::Removed)
        } else if view.running {
            view.space_state(s.row.id)
        } else {
            (0, SyncState::Offline)
        };
        SpaceInfo {
            id: s.row.id,
            name: s.row.name.clone(),
            personal: false,
            role: s.membership.role(&self.info.member).unwrap_or(Role::Reader),
            members: u32::try_from(s.membership.members().len()).unwrap_or(u32::MAX),
            connected,
            sync,
            stale_after_days: self.stale_after_days(s.row.id),
        }
    }

    /// Days after which an answer in `space` not confirmed as still right is marked stale.
    pub(super) fn stale_after_days(&self, space: SpaceId) -> u32 {
        self.store
            .meta(&format!("{STALE_META}{space}"))
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(DEFAULT_STALE_DAYS)
    }

    /// Changes this home's settings for a space.
    pub(super) fn space_settings(
        &mut self,
        space: &str,
        stale_after_days: Option<u32>,
    ) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        if let Some(days) = stale_after_days {
            if !(1..=3650).contains(&days) {
                return Err(NodeError::Invalid(format!(
                    "an answer can be marked stale after 1 to 3650 days, not {days}"
                )));
            }
            self.store
                .set_meta(&format!("{STALE_META}{space}"), &days.to_string())?;
            self.announce(crate::api::Event::SpacesChanged { space });
            self.announce(crate::api::Event::InboxChanged);
        }
        let detail = if space == self.info.personal {
            SpaceDetail {
                info: self.space_infos().remove(0),
                members: Vec::new(),
                removed: Vec::new(),
            }
        } else {
            self.space_detail(space)?
        };
        Ok(Outcome::read(Response::Space(detail)))
    }

    /// Every document of a space with the short hash of its heads, as reconciliation compares
    /// them (the item set every write keeps current; the members' profiles count), and one hash
    /// over them all: what two members compare to know that they hold the same version of
    /// every document.
    pub(super) fn space_digest(&mut self, space: &str) -> Result<Outcome, NodeError> {
        let space = self.space_ref(Some(space))?;
        let docs: Vec<(DocId, [u8; 8])> = self
            .items(space)?
            .iter()
            .map(|(id, heads)| (DocId::from_bytes(*id), *heads))
            .collect();
        let mut all = blake3::Hasher::new();
        all.update(b"tacit-space-digest-v1\0");
        for (id, heads) in &docs {
            all.update(id.as_bytes());
            all.update(heads);
        }
        let digest = hex::encode(&all.finalize().as_bytes()[..16]);
        Ok(Outcome::read(Response::Digest(SpaceDigest {
            space,
            digest,
            docs: docs
                .into_iter()
                .map(|(id, heads)| (id, hex::encode(heads)))
                .collect(),
        })))
    }

    pub(super) fn space_detail(&mut self, space: SpaceId) -> Result<SpaceDetail, NodeError> {
        let view = self.net_view();
        let online = view.connected_members();
        let listed: Vec<(MemberId, tacit_core::Member)> = self
            .shared(space)?
            .membership
            .members()
            .iter()
            .map(|(id, m)| (*id, m.clone()))
            .collect();
        // Members this home knows an address for (the address book holds members only): read
        // only when someone is not connected, to say why.
        let booked: BTreeSet<MemberId> = if listed
            .iter()
            .all(|(id, _)| *id == self.info.member || online.contains(id))
        {
            BTreeSet::new()
        } else {
            self.store
                .addresses()
                .unwrap_or_default()
                .iter()
                .filter_map(|a| a.peer.parse::<tacit_net::PeerId>().ok())
                .filter_map(|p| tacit_net::member_of(&p))
                .collect()
        };
        let mut members: Vec<MemberInfo> = Vec::with_capacity(listed.len());
        for (id, m) in listed {
            let me = id == self.info.member;
            let via = if me { None } else { view.via(id) };
            // The member's own profile, signed and synced, over the names given when joining;
            // a name that looks like another member's is told apart.
            let (name, org) = self.name_of(id);
            members.push(MemberInfo {
                member: id,
                name,
                org,
                role: m.role,
                joined_at: m.joined_at,
                me,
                connected: me || online.contains(&id),
                via,
                why: match view.hostile.get(&id) {
                    Some(what) if !me => Some(format!(
                        "its device sent what no honest one sends ({what}); its sync sessions are refused for a while, longer each time — remove it if this goes on"
                    )),
                    _ => (!me && via.is_none() && !online.contains(&id))
                        .then(|| view.why_not(booked.contains(&id))),
                },
            });
        }
        let shared = self.shared(space)?;
        members.sort_by_key(|m| (m.role != Role::Owner, m.role != Role::Editor, m.joined_at));
        Ok(SpaceDetail {
            info: self.info_of(shared, &view),
            members,
            removed: shared.membership.removed().keys().copied().collect(),
        })
    }
}
