"""All models; importing this package registers every table on ``Base.metadata``."""

from storage.models.answers import QuestionLog
from storage.models.base import Base, utcnow
from storage.models.broadcasts import Broadcast, BroadcastDelivery, BroadcastOptOut, SendLane
from storage.models.certificates import Certificate
from storage.models.conversation import ConversationState, OfferedButton
from storage.models.dashboard import DashboardAttempt, DashboardLink, DashboardSession
from storage.models.delivery import SeenEvent, WebHistory, WebOutbox
from storage.models.followup import CitizenNote, FollowupMessage, FollowupThread
from storage.models.keys import ServerKey
from storage.models.lessons import LessonAttempt, LessonStep, QuizAnswer, SkillCompletion
from storage.models.nudges import Nudge, NudgePref, ReviewAnswer
from storage.models.teams import (
    AnonymousCount,
    GuidedSkill,
    MemberInvite,
    SharedFile,
    Team,
    TeamMembership,
    TeamQuestion,
    TeamSize,
)
from storage.models.users import ROLES, STAFF, TEAM_STAFF, Role, User
from storage.models.zalo_oa import ZaloOA, ZaloOAImage, ZaloOATeam, ZaloOAuthState

__all__ = [
    "ROLES",
    "STAFF",
    "TEAM_STAFF",
    "AnonymousCount",
    "Base",
    "Broadcast",
    "BroadcastDelivery",
    "BroadcastOptOut",
    "Certificate",
    "CitizenNote",
    "ConversationState",
    "DashboardAttempt",
    "DashboardLink",
    "DashboardSession",
    "FollowupMessage",
    "FollowupThread",
    "GuidedSkill",
    "LessonAttempt",
    "LessonStep",
    "MemberInvite",
    "Nudge",
    "NudgePref",
    "OfferedButton",
    "QuestionLog",
    "QuizAnswer",
    "ReviewAnswer",
    "Role",
    "SeenEvent",
    "SendLane",
    "ServerKey",
    "SharedFile",
    "SkillCompletion",
    "Team",
    "TeamMembership",
    "TeamQuestion",
    "TeamSize",
    "User",
    "WebHistory",
    "WebOutbox",
    "ZaloOA",
    "ZaloOAImage",
    "ZaloOATeam",
    "ZaloOAuthState",
    "utcnow",
]
