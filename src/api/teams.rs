//! `/v1/teams`: teams and their members within the caller's organization (`teams:read`,
//! `teams:write`). Removing a member, or deleting the team, clears it as the user's
//! `selected_team_id`.

use std::sync::LazyLock;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};

use super::{
    ApiTags, BearerAuth,
    envelope::{envelope, error_responses, page_envelope},
    http::DeletedResponse,
    pages::PageRequest,
    patch::{FieldRules, IMMUTABLE, PatchBody, Reader},
};
use crate::{
    db::{events::NewEvent, models, teams},
    domain::{DisplayName, EventType, OrgId, Scope, TeamId, Timestamp, UserId},
    error::ErrorCode,
    events::Origin,
    state::AppState,
};

/// A team of the organization.
#[derive(Debug, Clone, Object)]
pub struct Team {
    /// The team's id.
    pub id: TeamId,
    /// The organization the team belongs to.
    pub org_id: OrgId,
    /// 1–100 characters.
    pub name: String,
    /// When the team was created.
    pub created_at: Timestamp,
}

/// A new team.
#[derive(Debug, Clone, Object)]
pub struct TeamCreate {
    /// 1–100 characters after trimming, by the text rules of `display_name` (no control
    /// character anywhere, no invisible or spoofing characters; a visible letter or digit):
    /// else 422 `INVALID_NAME`.
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub name: String,
}

/// Changes to a team: absent fields are unchanged; `{}` is a no-op.
#[derive(Debug, Clone, Object)]
pub struct TeamPatch {
    /// 1–100 characters after trimming, by the text rules of `display_name` (no control
    /// character anywhere, no invisible or spoofing characters; a visible letter or digit):
    /// else 422 `INVALID_NAME`.
    #[oai(validator(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub name: Option<String>,
}

/// A user's membership of a team.
#[derive(Debug, Clone, Object)]
pub struct TeamMember {
    /// The team.
    pub team_id: TeamId,
    /// The member.
    pub user_id: UserId,
    /// The user's role in the team (`member`).
    pub role: String,
    /// When the user joined the team.
    pub created_at: Timestamp,
}

envelope!(TeamEnvelope, Team);
envelope!(TeamMemberEnvelope, TeamMember);
page_envelope!(TeamListEnvelope, Team);

#[derive(Debug, ApiResponse)]
pub enum TeamResponse {
    /// The team.
    #[oai(status = 200)]
    Ok(Json<TeamEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum CreatedTeamResponse {
    /// The new team; `Location` is its URL.
    #[oai(status = 201)]
    Created(Json<TeamEnvelope>, #[oai(header = "Location")] String),
}

#[derive(Debug, ApiResponse)]
pub enum TeamListResponse {
    /// One page of teams, by id (creation order).
    #[oai(status = 200)]
    Ok(Json<TeamListEnvelope>),
}

#[derive(Debug, ApiResponse)]
pub enum TeamMemberResponse {
    /// The membership (unchanged when the user already was a member).
    #[oai(status = 200)]
    Ok(Json<TeamMemberEnvelope>),
}

error_responses!(ListTeamsError {
    400 => BadRequest: "`MALFORMED_REQUEST`: `limit` is not an integer from 1 to 100.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `teams:read`.",
    422 => Unprocessable: "`INVALID_CURSOR`: the cursor was not issued by this API.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(CreateTeamError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown or missing fields) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `teams:write`.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_NAME`; nothing was created.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(PatchTeamError {
    400 => BadRequest: "`MALFORMED_REQUEST` (not JSON, wrong JSON types, unknown fields, `team_id` not a UUID) or `IMMUTABLE_FIELD`.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks `teams:write`.",
    404 => NotFound: "No such team in the caller's organization.",
    413 => PayloadTooLarge: "The body is larger than 256 KiB.",
    415 => UnsupportedMediaType: "The body is not `application/json`.",
    422 => Unprocessable: "`INVALID_NAME`; nothing was changed.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

error_responses!(TeamByIdError {
    400 => BadRequest: "`MALFORMED_REQUEST`: an id is not a UUID.",
    401 => Unauthorized: "Missing, malformed, expired or revoked credentials.",
    403 => Forbidden: "`INSUFFICIENT_SCOPE`: the caller lacks the scope.",
    404 => NotFound: "No such team (or user, or membership) in the caller's organization.",
    500 => Internal: "Unexpected failure; nothing internal is disclosed.",
    503 => Unavailable: "`SERVICE_UNAVAILABLE`: the database is unavailable; retry after `Retry-After` seconds.",
});

static TEAM_CREATE_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<TeamCreate>(IMMUTABLE, &[]));
static TEAM_PATCH_FIELDS: LazyLock<FieldRules> =
    LazyLock::new(|| FieldRules::derive::<TeamPatch>(IMMUTABLE, &[]));

pub struct TeamsApi;

#[OpenApi(tag = "ApiTags::Teams")]
impl TeamsApi {
    /// List teams
    ///
    /// The teams of the caller's organization in creation order, one page at a time. Needs
    /// `teams:read`.
    #[oai(path = "/v1/teams", method = "get", operation_id = "listTeams")]
    async fn list_teams(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// `meta.next_cursor` of the previous page; leave out, or send empty, for the first page.
        /// Anything this API did not issue is a 422 `INVALID_CURSOR`.
        cursor: Query<Option<String>>,
    ) -> Result<TeamListResponse, ListTeamsError> {
        let caller = state.caller(&auth, Scope::TeamsRead).await?;
        let page = PageRequest::parse(limit.0, cursor.0.as_deref())?;
        let after = page.after.map(TeamId::from);
        let rows = teams::list(&state.db, &caller.org_id, after, page.fetch()).await?;
        let (rows, meta) = page.page(rows, |t| t.id.into_uuid());
        let data = rows.iter().map(team).collect();
        Ok(TeamListResponse::Ok(Json(TeamListEnvelope {
            success: true,
            data,
            meta,
        })))
    }

    /// Create a team
    ///
    /// Creates a team in the caller's organization, without members. Needs `teams:write`.
    #[oai(path = "/v1/teams", method = "post", operation_id = "createTeam")]
    async fn create_team(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<PatchBody<TeamCreate>>,
    ) -> Result<CreatedTeamResponse, CreateTeamError> {
        let caller = state.caller(&auth, Scope::TeamsWrite).await?;
        let mut r = body.0.reader(&TEAM_CREATE_FIELDS)?;
        let name = r.required_string("name");
        let name = name.and_then(|n| checked_name(&mut r, &n));
        r.finish()?;
        let row = models::Team {
            id: TeamId::new(),
            org_id: caller.org_id,
            name: name.unwrap_or_default(),
            created_at: crate::db::now(),
        };
        let created = team_event(
            &super::origin(caller.actor()),
            &row,
            EventType::TeamCreated,
            None,
        );
        teams::insert(&state.db, &row, &[created]).await?;
        let location = format!("/v1/teams/{}", row.id);
        Ok(CreatedTeamResponse::Created(
            Json(team(&row).into()),
            location,
        ))
    }

    /// Get a team
    ///
    /// One team of the caller's organization; an id of another organization is 404, like an
    /// id that does not exist. Needs `teams:read`.
    #[oai(path = "/v1/teams/:team_id", method = "get", operation_id = "getTeam")]
    async fn get_team(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        team_id: Path<TeamId>,
    ) -> Result<TeamResponse, TeamByIdError> {
        let caller = state.caller(&auth, Scope::TeamsRead).await?;
        let row = teams::find(&state.db, &caller.org_id, &team_id).await?;
        Ok(TeamResponse::Ok(Json(team(&row).into())))
    }

    /// Update a team
    ///
    /// Renames the team. Needs `teams:write`.
    #[oai(
        path = "/v1/teams/:team_id",
        method = "patch",
        operation_id = "patchTeam"
    )]
    async fn patch_team(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        team_id: Path<TeamId>,
        body: Json<PatchBody<TeamPatch>>,
    ) -> Result<TeamResponse, PatchTeamError> {
        let caller = state.caller(&auth, Scope::TeamsWrite).await?;
        let mut r = body.0.reader(&TEAM_PATCH_FIELDS)?;
        let name = match r.string("name") {
            super::patch::Field::Value(name) => checked_name(&mut r, &name),
            super::patch::Field::Null => {
                r.invalid_field(crate::error::FieldError::new(
                    "name",
                    ErrorCode::InvalidName,
                    "a team always has a name",
                ));
                None
            }
            super::patch::Field::Absent => None,
        };
        r.finish()?;
        let row = match name {
            Some(name) => {
                let origin = super::origin(caller.actor());
                let record = |before: &models::Team, after: &models::Team| {
                    let change = (before.name != after.name).then(|| {
                        crate::events::users::change(
                            "name",
                            &before.name.as_str().into(),
                            &after.name.as_str().into(),
                        )
                    });
                    change
                        .map(|change| {
                            team_event(&origin, after, EventType::TeamUpdated, Some(change))
                        })
                        .into_iter()
                        .collect()
                };
                teams::rename(&state.db, &caller.org_id, &team_id, &name, record).await?
            }
            None => teams::find(&state.db, &caller.org_id, &team_id).await?,
        };
        Ok(TeamResponse::Ok(Json(team(&row).into())))
    }

    /// Delete a team
    ///
    /// Deletes the team and its memberships, and clears it as every member's selected team.
    /// Needs `teams:write`. Deleting again is 404.
    #[oai(
        path = "/v1/teams/:team_id",
        method = "delete",
        operation_id = "deleteTeam"
    )]
    async fn delete_team(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        team_id: Path<TeamId>,
    ) -> Result<DeletedResponse, TeamByIdError> {
        let caller = state.caller(&auth, Scope::TeamsWrite).await?;
        let origin = super::origin(caller.actor());
        let deleted = origin.event(
            caller.org_id,
            EventType::TeamDeleted,
            Some(team_id.to_string()),
            &serde_json::json!({"object": {"id": *team_id, "deleted": true}}),
        );
        let users = super::user_events(caller.actor());
        let record_user = |before: &_, after: &_| users.updated(before, after);
        teams::delete(&state.db, &caller.org_id, &team_id, &[deleted], record_user).await?;
        Ok(DeletedResponse::NoContent)
    }

    /// Add a team member
    ///
    /// Makes the user a member of the team; idempotent. Both must belong to the caller's
    /// organization (404 otherwise). Needs `teams:write`.
    #[oai(
        path = "/v1/teams/:team_id/members/:user_id",
        method = "put",
        operation_id = "addTeamMember"
    )]
    async fn add_member(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        team_id: Path<TeamId>,
        user_id: Path<UserId>,
    ) -> Result<TeamMemberResponse, TeamByIdError> {
        let caller = state.caller(&auth, Scope::TeamsWrite).await?;
        let added = member_event(&caller, EventType::TeamMemberAdded, &team_id, &user_id);
        let member =
            teams::add_member(&state.db, &caller.org_id, &team_id, &user_id, &[added]).await?;
        let member = TeamMember {
            team_id: member.team_id,
            user_id: member.user_id,
            role: member.role,
            created_at: Timestamp::from(member.created_at),
        };
        Ok(TeamMemberResponse::Ok(Json(member.into())))
    }

    /// Remove a team member
    ///
    /// Removes the user from the team and clears it as their selected team. Needs
    /// `teams:write`. 404 when the user is not a member.
    #[oai(
        path = "/v1/teams/:team_id/members/:user_id",
        method = "delete",
        operation_id = "removeTeamMember"
    )]
    async fn remove_member(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        team_id: Path<TeamId>,
        user_id: Path<UserId>,
    ) -> Result<DeletedResponse, TeamByIdError> {
        let caller = state.caller(&auth, Scope::TeamsWrite).await?;
        let removed = member_event(&caller, EventType::TeamMemberRemoved, &team_id, &user_id);
        let users = super::user_events(caller.actor());
        let record_user = |before: &_, after: &_| users.updated(before, after);
        teams::remove_member(
            &state.db,
            &caller.org_id,
            &team_id,
            &user_id,
            &[removed],
            record_user,
        )
        .await?;
        Ok(DeletedResponse::NoContent)
    }
}

fn checked_name(r: &mut Reader, name: &str) -> Option<String> {
    match DisplayName::parse(name) {
        Ok(name) => Some(name.into_inner()),
        Err(invalid) => {
            r.invalid("name", invalid);
            None
        }
    }
}

fn team(row: &models::Team) -> Team {
    Team {
        id: row.id,
        org_id: row.org_id,
        name: row.name.clone(),
        created_at: Timestamp::from(row.created_at),
    }
}

/// `team.created` or `team.updated`: the team after the change, and for an update its
/// `changes`.
fn team_event(
    origin: &Origin,
    row: &models::Team,
    kind: EventType,
    change: Option<serde_json::Value>,
) -> NewEvent {
    use poem_openapi::types::ToJSON;
    let data = serde_json::json!({"object": team(row).to_json(), "changes": change.into_iter().collect::<Vec<_>>()});
    origin.event(row.org_id, kind, Some(row.id.to_string()), &data)
}

/// `team.member_added` or `team.member_removed`, in the member's history.
fn member_event(
    caller: &crate::auth::Caller,
    kind: EventType,
    team_id: &TeamId,
    user_id: &UserId,
) -> NewEvent {
    let data = serde_json::json!({"object": {"team_id": team_id, "user_id": user_id}});
    super::origin(caller.actor()).event(caller.org_id, kind, Some(user_id.to_string()), &data)
}
