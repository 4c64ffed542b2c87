"""All models; importing this package registers every table on ``Base.metadata``."""

from storage.models.base import Base, utcnow
from storage.models.conversation import ConversationState, OfferedButton
from storage.models.delivery import SeenEvent, WebOutbox
from storage.models.lessons import LessonAttempt, LessonStep, QuizAnswer, SkillCompletion
from storage.models.users import ROLES, User

__all__ = [
    "ROLES",
    "Base",
    "ConversationState",
    "LessonAttempt",
    "LessonStep",
    "OfferedButton",
    "QuizAnswer",
    "SeenEvent",
    "SkillCompletion",
    "User",
    "WebOutbox",
    "utcnow",
]
