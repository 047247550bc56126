//! The TypeScript types of everything that crosses the UI boundary, generated from the Rust
//! types into `ui/src/lib/bindings.ts`. A test compares the checked-in file with what the
//! types say now and fails when it is stale; `TACIT_BLESS=1 cargo test -p tacit-desktop
//! bindings` rewrites it.

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tacit_node::core::diff::{DiffLine, DiffSide};
    use tacit_node::core::people::{Act, Health, Reason, Record};
    use tacit_node::core::{
        AnswerId, AnswerView, Attachment, DocId, Draft, Kind, MemberId, NoteEdit, NoteView, OpHash,
        ProfileEdit, ProfileView, QuestionView, Role, SpaceId, VersionKind,
    };
    use tacit_node::{
        AttachmentInfo, AttachmentLimitsView, ContributionView, ErrorKind, Event, ExpertInfo,
        ExportPage, HealthView, Hit, Identity, ImportNote, ImportReport, InboxItem, InboxKind,
        InitReport, InviteInfo, LinkedDoc, Links, ListItem, MemberInfo, NetStatus, PeerInfo,
        PersonDetail, PersonInfo, Reachability, RecordStatement, RecordView, RelayInfo,
        RelaySource, RelayState, Request, Response, RouteInfo, SearchState, SpaceDetail,
        SpaceDigest, SpaceInfo, SpaceRecord, Status, SyncState, Traffic, TrashItem, VersionDetail,
        VersionInfo, Via, WireError,
    };
    use tacit_vault::{ExportSummary, FileNote, ImportSummary, Progress};
    use ts_rs::{Config, TS};

    use crate::app::{AppState, NetworkState, TicketInfo, UiMark};
    use crate::capture::CaptureSettings;

    fn decl<T: TS>(cfg: &Config, out: &mut String) {
        if let Some(docs) = T::docs() {
            out.push_str(&docs);
        }
        out.push_str("export ");
        out.push_str(&T::decl(cfg));
        out.push_str("\n\n");
    }

    fn generate() -> String {
        // Times are milliseconds since the epoch and sizes are bytes: safe as JS numbers.
        let cfg = Config::new().with_large_int("number");
        let mut out = String::from(
            "// Generated from the Rust types by `TACIT_BLESS=1 cargo test -p tacit-desktop \
             bindings`. Do not edit.\n\n",
        );
        let o = &mut out;
        decl::<DocId>(&cfg, o);
        decl::<AnswerId>(&cfg, o);
        decl::<SpaceId>(&cfg, o);
        decl::<MemberId>(&cfg, o);
        decl::<OpHash>(&cfg, o);
        decl::<Kind>(&cfg, o);
        decl::<Role>(&cfg, o);
        decl::<Draft>(&cfg, o);
        decl::<NoteEdit>(&cfg, o);
        decl::<ProfileEdit>(&cfg, o);
        decl::<NoteView>(&cfg, o);
        decl::<AnswerView>(&cfg, o);
        decl::<QuestionView>(&cfg, o);
        decl::<ProfileView>(&cfg, o);
        decl::<Request>(&cfg, o);
        decl::<Response>(&cfg, o);
        decl::<InitReport>(&cfg, o);
        decl::<Identity>(&cfg, o);
        decl::<ListItem>(&cfg, o);
        decl::<Status>(&cfg, o);
        decl::<SearchState>(&cfg, o);
        decl::<Hit>(&cfg, o);
        decl::<LinkedDoc>(&cfg, o);
        decl::<Links>(&cfg, o);
        decl::<ImportNote>(&cfg, o);
        decl::<ImportReport>(&cfg, o);
        decl::<ExportPage>(&cfg, o);
        decl::<Attachment>(&cfg, o);
        decl::<AttachmentInfo>(&cfg, o);
        decl::<AttachmentLimitsView>(&cfg, o);
        decl::<SyncState>(&cfg, o);
        decl::<SpaceInfo>(&cfg, o);
        decl::<MemberInfo>(&cfg, o);
        decl::<SpaceDetail>(&cfg, o);
        decl::<InviteInfo>(&cfg, o);
        decl::<PeerInfo>(&cfg, o);
        decl::<Traffic>(&cfg, o);
        decl::<Via>(&cfg, o);
        decl::<Reachability>(&cfg, o);
        decl::<RelayState>(&cfg, o);
        decl::<RelaySource>(&cfg, o);
        decl::<RelayInfo>(&cfg, o);
        decl::<NetStatus>(&cfg, o);
        decl::<Act>(&cfg, o);
        decl::<Reason>(&cfg, o);
        decl::<Record>(&cfg, o);
        decl::<Health>(&cfg, o);
        decl::<ExpertInfo>(&cfg, o);
        decl::<PersonInfo>(&cfg, o);
        decl::<SpaceRecord>(&cfg, o);
        decl::<ContributionView>(&cfg, o);
        decl::<PersonDetail>(&cfg, o);
        decl::<InboxKind>(&cfg, o);
        decl::<InboxItem>(&cfg, o);
        decl::<RouteInfo>(&cfg, o);
        decl::<RecordView>(&cfg, o);
        decl::<RecordStatement>(&cfg, o);
        decl::<HealthView>(&cfg, o);
        decl::<SpaceDigest>(&cfg, o);
        decl::<VersionKind>(&cfg, o);
        decl::<VersionInfo>(&cfg, o);
        decl::<DiffSide>(&cfg, o);
        decl::<DiffLine>(&cfg, o);
        decl::<VersionDetail>(&cfg, o);
        decl::<TrashItem>(&cfg, o);
        decl::<Event>(&cfg, o);
        decl::<ErrorKind>(&cfg, o);
        decl::<WireError>(&cfg, o);
        decl::<AppState>(&cfg, o);
        decl::<NetworkState>(&cfg, o);
        decl::<TicketInfo>(&cfg, o);
        decl::<UiMark>(&cfg, o);
        decl::<CaptureSettings>(&cfg, o);
        decl::<Progress>(&cfg, o);
        decl::<FileNote>(&cfg, o);
        decl::<ImportSummary>(&cfg, o);
        decl::<ExportSummary>(&cfg, o);
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    #[test]
    fn bindings_are_current() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
        let want = generate();
        if std::env::var_os("TACIT_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(&path, &want).expect("write bindings");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `TACIT_BLESS=1 cargo test -p tacit-desktop bindings` and commit it",
            path.display()
        );
    }
}
