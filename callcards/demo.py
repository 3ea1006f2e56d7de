"""Demo data: the specification's dictionaries, staff of each role, the clinic's call flow."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.demo import demo_document
from models import (
    CallCategory,
    CallPurpose,
    CallSubCategory,
    CallTag,
    Queue,
    QueueMember,
    Role,
    User,
)
from models.flow import latest_version, publish, store_document

PURPOSES = [
    "Запись на приём",
    "Перенос/отмена визита",
    "Консультация по услугам",
    "Жалоба/претензия",
    "Уточнение расписания",
    "Вопрос по результатам анализов",
    "Финансовые вопросы",
    "Вопрос по страхованию",
    "Техническая помощь",
    "Прочее",
]

CATEGORIES: dict[str, list[str]] = {
    "Медицинские услуги": ["Терапия", "Педиатрия", "Стоматология", "Диагностика (УЗИ, МРТ)"],
    "Лаборатория/анализы": ["Готовность результатов", "Подготовка к анализам", "Расшифровка"],
    "Расписание/приём": ["Новая запись", "Перенос", "Отмена", "Опоздание"],
    "Финансы/страхование": ["Стоимость услуг", "Оплата и возврат", "ДМС", "ОМС", "Налоговый вычет"],
    "Жалобы и предложения": ["Качество обслуживания", "Ожидание в очереди", "Благодарность"],
    "Технические вопросы": ["Личный кабинет", "Онлайн-запись", "Телемедицина"],
    "Прочее": ["Другое"],
}

TAGS = ["VIP", "Повторное обращение", "Срочно", "Новый пациент", "Конфликт"]

#: Demo staff: login -> (name, role, extension). Passwords equal the login (demo only).
STAFF = {
    "admin": ("Анна Админова", Role.ADMIN, None),
    "supervisor": ("Сергей Супервайзеров", Role.SUPERVISOR, None),
    "operator1": ("Ольга Операторова", Role.OPERATOR, "101"),
    "operator2": ("Иван Петров", Role.OPERATOR, "102"),
}


def _ensure_dictionaries(session: Session) -> None:
    for position, name in enumerate(PURPOSES):
        if session.scalar(select(CallPurpose).where(CallPurpose.name == name)) is None:
            session.add(CallPurpose(name=name, position=position))
    for position, (name, subs) in enumerate(CATEGORIES.items()):
        category = session.scalar(select(CallCategory).where(CallCategory.name == name))
        if category is None:
            category = CallCategory(name=name, position=position)
            session.add(category)
            session.flush()
        for sub_position, sub in enumerate(subs):
            exists = session.scalar(
                select(CallSubCategory).where(
                    CallSubCategory.category_id == category.id, CallSubCategory.name == sub
                )
            )
            if exists is None:
                session.add(CallSubCategory(name=sub, position=sub_position, category=category))
    for position, name in enumerate(TAGS):
        if session.scalar(select(CallTag).where(CallTag.name == name)) is None:
            session.add(CallTag(name=name, position=position))


def _ensure_staff(session: Session) -> None:
    queues = list(session.scalars(select(Queue)))
    for login, (name, role, extension) in STAFF.items():
        user = session.scalar(select(User).where(User.login == login))
        if user is None:
            user = User(login=login, name=name, role=role.value, extension=extension)
            user.set_password(login)
            session.add(user)
            session.flush()
            if role is Role.OPERATOR:
                user.memberships = [QueueMember(queue=queue, penalty=0) for queue in queues]
            if role is Role.SUPERVISOR:
                user.supervised_queues = list(queues)


def seed_demo(session: Session) -> None:
    """Load the demo data; running it again adds only what is missing."""
    _ensure_dictionaries(session)
    first = latest_version(session) is None
    if first:
        store_document(session, demo_document())
    _ensure_staff(session)
    if first:  # after the staff: the version keeps the queues' operators too
        publish(session, user_id=None, comment="Демо: клиника (demo clinic call flow)")
