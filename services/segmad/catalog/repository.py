"""The catalog repository: domain reads and idempotent writes, the same SQL on SQLite and PostgreSQL.

Every write is keyed by its natural key, so a message handled twice (at-least-once delivery)
leaves the catalog as handling it once did.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable, Iterator, Mapping

from sqlalchemy import Connection, Engine, Table, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from segmad.catalog import schema as t
from segmad.catalog.records import Evaluation, Image, ModelVersion, Prediction, Rejection, Round, RoundSettings
from segmad.mad.heaps import PARTITIONS, HeapKey, Member, merge_members

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


class Catalog:
    """What segmad knows about images, models, predictions and rounds, in one SQL database."""

    def __init__(self, engine: Engine):
        if engine.dialect.name not in _INSERTS:
            raise ValueError(f"the catalog runs on SQLite or PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self._insert = _INSERTS[engine.dialect.name]

    def connect(self) -> Connection:
        """A connection to the catalog's database, for the labelling service's functions that share it."""
        return self.engine.connect()

    def begin(self):
        """A transaction on the catalog's database (committed when the block ends without an error)."""
        return self.engine.begin()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def _add(self, table: Table, row: dict) -> bool:
        """Insert unless a row with the same key exists; True if inserted."""
        with self.engine.begin() as conn:
            return conn.execute(self._insert(table).values(row).on_conflict_do_nothing()).rowcount == 1

    def _upsert(self, conn, table: Table, row: dict) -> None:
        """Insert, or overwrite the non-key columns of the row with the same primary key."""
        keys = [c.name for c in table.primary_key]
        statement = self._insert(table).values(row)
        updates = {name: statement.excluded[name] for name in row if name not in keys}
        conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))

    # Images and rejections

    def add_image(self, image: Image) -> bool:
        """Catalogue an image; False if its id or sha256 is already there."""
        return self._add(t.images, {**image.__dict__, "ingested_at": image.ingested_at or now()})

    def add_images(self, images: Iterable[Image]) -> set[str]:
        """Catalogue many images in one transaction, one INSERT per thousand rows; the ids of those that were new.

        The rows go as parameter sets of one statement (SQLAlchemy's "insertmanyvalues" writes them into
        one multi-row INSERT per page), not as a statement built around them: that one was compiled
        afresh for every batch, most of the catalogue's CPU (add_predictions likewise)."""
        at = now()
        rows = [{**image.__dict__, "ingested_at": image.ingested_at or at} for image in images]
        statement = self._insert(t.images).on_conflict_do_nothing().returning(t.images.c.image_id)
        with self.engine.begin() as conn:
            return {image_id for chunk in _chunks(rows) for image_id in conn.execute(statement, chunk).scalars()}

    def images_by_sha256(self, digests: Iterable[str]) -> dict[str, Image]:
        """The catalogued images among these contents, by sha256, in one query per thousand digests."""
        found: dict[str, Image] = {}
        for chunk in _chunks(sorted(set(digests))):
            with self.engine.connect() as conn:
                rows = conn.execute(select(t.images).where(t.images.c.sha256.in_(chunk))).mappings()
                found.update((row["sha256"], Image(**row)) for row in rows)
        return found

    def image(self, image_id: str) -> Image | None:
        """The image with that id, if catalogued."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.images).where(t.images.c.image_id == image_id)).mappings().first()
        return Image(**row) if row else None

    def images_by_id(self, image_ids: Iterable[str]) -> dict[str, Image]:
        """The catalogued images among `image_ids`, by id, in one query per thousand ids."""
        found: dict[str, Image] = {}
        for chunk in _chunks(sorted(set(image_ids))):
            with self.engine.connect() as conn:
                rows = conn.execute(select(t.images).where(t.images.c.image_id.in_(chunk))).mappings()
                found.update((row["image_id"], Image(**row)) for row in rows)
        return found

    def image_ids(self) -> list[str]:
        """Every catalogued image id, sorted."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.images.c.image_id).order_by(t.images.c.image_id)).scalars())

    def add_rejection(self, source: str, reason: str) -> None:
        """Record that ingestion refused `source`, keeping the latest reason."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.rejections, {"source": source, "reason": reason, "at": now()})

    def rejections(self) -> list[Rejection]:
        """Every refused source, sorted."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.rejections).order_by(t.rejections.c.source)).mappings()
            return [Rejection(**row) for row in rows]

    def mark_unusable(self, image_id: str, reason: str) -> None:
        """Record that no model can predict `image_id` (keeping the latest reason): it leaves every round's pool."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.unusable_images, {"image_id": image_id, "reason": reason, "at": now()})

    def unusable_images(self) -> dict[str, str]:
        """Pool images marked unusable, with their reasons."""
        with self.engine.connect() as conn:
            return dict(conn.execute(select(t.unusable_images.c.image_id, t.unusable_images.c.reason)).all())

    # Model versions

    def add_model_version(self, model: ModelVersion) -> bool:
        """Register a model version; False if that (name, version) exists (versions never change)."""
        return self._add(t.model_versions, {**model.__dict__, "created_at": model.created_at or now()})

    def model_version(self, name: str, version: str) -> ModelVersion | None:
        """One registered version."""
        table = t.model_versions
        query = select(table).where(table.c.name == name, table.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return ModelVersion(**row) if row else None

    def model_versions(self, name: str | None = None, role: str | None = None) -> list[ModelVersion]:
        """Registered versions, optionally of one name or role, by name then creation."""
        table = t.model_versions
        query = select(table).order_by(table.c.name, table.c.created_at, table.c.version)
        if name is not None:
            query = query.where(table.c.name == name)
        if role is not None:
            query = query.where(table.c.role == role)
        with self.engine.connect() as conn:
            return [ModelVersion(**row) for row in conn.execute(query).mappings()]

    def set_default_version(self, name: str, version: str) -> None:
        """Make `version` the one served for `name`; it must be registered."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.default_versions, {"name": name, "version": version})

    def default_version(self, name: str) -> str | None:
        """The version served for `name`, if one was set."""
        query = select(t.default_versions.c.version).where(t.default_versions.c.name == name)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def default_models(self, role: str | None = None) -> list[ModelVersion]:
        """The default version of every model name, optionally of one role, sorted by name."""
        mv, dv = t.model_versions, t.default_versions
        join = mv.join(dv, and_(mv.c.name == dv.c.name, mv.c.version == dv.c.version))
        query = select(mv).select_from(join).order_by(mv.c.name)
        if role is not None:
            query = query.where(mv.c.role == role)
        with self.engine.connect() as conn:
            return [ModelVersion(**row) for row in conn.execute(query).mappings()]

    # Predictions

    def add_prediction(self, prediction: Prediction) -> bool:
        """Record a model version's label map of an image; False if it was recorded before."""
        return self._add(t.predictions, _prediction_row(prediction))

    def add_predictions(self, predictions: Iterable[Prediction]) -> int:
        """Record many predictions in one transaction, one INSERT per thousand rows; how many were new."""
        rows = [_prediction_row(p) for p in predictions]
        statement = self._insert(t.predictions).on_conflict_do_nothing().returning(t.predictions.c.image_id)
        with self.engine.begin() as conn:
            return sum(len(conn.execute(statement, chunk).all()) for chunk in _chunks(rows))

    def prediction(self, image_id: str, model: str, version: str) -> Prediction | None:
        """The recorded prediction, if any."""
        p = t.predictions
        query = select(p).where(p.c.image_id == image_id, p.c.model == model, p.c.version == version)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return Prediction(**row) if row else None

    def predictions_for(self, image_ids: Iterable[str], model: str, version: str) -> list[Prediction]:
        """The recorded predictions of one model version among `image_ids`, by image id."""
        p, found = t.predictions, []
        for chunk in _chunks(sorted(set(image_ids))):
            query = select(p).where(p.c.model == model, p.c.version == version, p.c.image_id.in_(chunk))
            with self.engine.connect() as conn:
                found += [Prediction(**row) for row in conn.execute(query.order_by(p.c.image_id)).mappings()]
        return found

    def predictions_for_model_version(self, model: str, version: str, batch_size: int = 1000) -> Iterator[Prediction]:
        """Every prediction of one model version, by image id, read a page at a time."""
        p, after = t.predictions, ""
        while True:
            # Keyset pages: no cursor stays open between pages, so writers are never blocked.
            query = (
                select(p)
                .where(p.c.model == model, p.c.version == version, p.c.image_id > after)
                .order_by(p.c.image_id)
                .limit(batch_size)
            )
            with self.engine.connect() as conn:
                page = [Prediction(**row) for row in conn.execute(query).mappings()]
            yield from page
            if len(page) < batch_size:
                return
            after = page[-1].image_id

    # Rounds

    def start_round(
        self, round: int, target: str, target_version: str, n3: int, n4: int,
        settings: RoundSettings | None = None, state: str = "mining",
    ) -> bool:
        """Open round `round` troubleshooting target_version; False if it was already started."""
        at = now()
        row = dict(round=round, state=state, target=target, target_version=target_version, n3=n3, n4=n4,
                   settings=(settings or RoundSettings()).to_dict(), created_at=at, updated_at=at)
        return self._add(t.rounds, row)

    def set_round_state(self, round: int, state: str) -> None:
        """Move a round to `state`; KeyError if there is no such round."""
        query = t.rounds.update().where(t.rounds.c.round == round).values(state=state, updated_at=now())
        with self.engine.begin() as conn:
            if conn.execute(query).rowcount == 0:
                raise KeyError(f"no round {round}")

    def update_round_settings(self, round: int, **changes) -> RoundSettings:
        """Replace some fields of a round's settings (read and written in one transaction); the result."""
        rounds = t.rounds
        with self.engine.begin() as conn:
            query = select(rounds.c.settings).where(rounds.c.round == round)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            current = conn.execute(query).scalar_one_or_none()
            if current is None:
                raise KeyError(f"no round {round}")
            merged = replace(RoundSettings.from_dict(current), **changes)
            conn.execute(rounds.update().where(rounds.c.round == round)
                         .values(settings=merged.to_dict(), updated_at=now()))
        return merged

    def round(self, round: int) -> Round | None:
        """One round, if started."""
        with self.engine.connect() as conn:
            row = conn.execute(select(t.rounds).where(t.rounds.c.round == round)).mappings().first()
        return _round(row) if row else None

    def rounds(self) -> list[Round]:
        """Every round, in order."""
        with self.engine.connect() as conn:
            return [_round(row) for row in conn.execute(select(t.rounds).order_by(t.rounds.c.round)).mappings()]

    # Heaps and the image sets of a round

    def save_heap(self, round: int, key: HeapKey, members: Iterable[Member]) -> None:
        """Replace the members of one heap of a round, atomically."""
        key = HeapKey(*key)
        h = t.heap_members
        where = and_(h.c.round == round, h.c.competitor == key.competitor,
                     h.c.class_id == key.class_id, h.c.partition == key.partition)
        rows = [dict(round=round, competitor=key.competitor, class_id=key.class_id, partition=key.partition,
                     image_id=m.image_id, distance=m.distance) for m in members]
        with self.engine.begin() as conn:
            conn.execute(h.delete().where(where))
            if rows:
                conn.execute(h.insert(), rows)

    def merge_heap(self, round: int, key: HeapKey, members: Iterable[Member], n3: int) -> list[Member]:
        """Merge one view of a heap into the stored heap (top n3 of the union); the merged members, best first."""
        return self.merge_heaps(round, {HeapKey(*key): members}, n3)[HeapKey(*key)]

    def merge_heaps(self, round: int, views: Mapping[HeapKey, Iterable[Member]], n3: int) -> dict[HeapKey, list[Member]]:
        """Merge views of several heaps into the stored heaps (top n3 of each union) in one transaction;
        the merged members of each, best first.

        The heaps are locked while they are read and written, so members of one consumer group saving the
        same heap at once lose none of each other's images. Only what changes is written: at most one
        DELETE and one INSERT for all the heaps together, none when no stored heap changes.
        """
        views = {HeapKey(*key): list(members) for key, members in views.items()}
        if not views:
            return {}
        h = t.heap_members
        with self.engine.begin() as conn:
            self._lock_heaps(conn, round, views)
            query = select(h.c.competitor, h.c.class_id, h.c.partition, h.c.image_id, h.c.distance).where(
                h.c.round == round, or_(*map(_heap, views)))
            stored: dict[HeapKey, list[Member]] = {key: [] for key in views}
            for r in conn.execute(query):
                stored[HeapKey(r.competitor, r.class_id, r.partition)].append(Member(r.image_id, r.distance))
            merged = {key: merge_members(n3, stored[key], view) for key, view in views.items()}
            gone = {key: [m.image_id for m in stored[key] if m not in merged[key]] for key in views}
            new = [dict(round=round, competitor=key.competitor, class_id=key.class_id, partition=key.partition,
                        image_id=m.image_id, distance=m.distance)
                   for key in views for m in merged[key] if m not in stored[key]]
            if any(gone.values()):
                conn.execute(h.delete().where(h.c.round == round, or_(*(
                    and_(_heap(key), h.c.image_id.in_(ids)) for key, ids in gone.items() if ids))))
            if new:
                conn.execute(h.insert(), new)
        return merged

    @staticmethod
    def _lock_heaps(conn, round: int, keys: Iterable[HeapKey]) -> None:
        """Hold some heaps of a round until the transaction ends."""
        if conn.dialect.name != "postgresql":
            # SQLite has one writer: taking the write lock before the read keeps the read current.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        # An advisory lock also covers a heap with no rows yet, which SELECT ... FOR UPDATE cannot. Taken
        # in one order (of the lock ids), so two members locking overlapping heaps cannot deadlock.
        names = (f"segmad heap {round} {key.competitor} {key.class_id} {key.partition}".encode() for key in keys)
        for lock in sorted(int.from_bytes(hashlib.blake2b(n, digest_size=8).digest(), "big", signed=True) for n in names):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})

    def load_heaps(self, round: int) -> list[dict]:
        """The round's heaps as records shaped like `CandidateHeaps.to_records()`."""
        h = t.heap_members
        with self.engine.connect() as conn:
            rows = conn.execute(select(h).where(h.c.round == round)).mappings().all()
        heaps: dict[HeapKey, list[Member]] = {}
        for row in rows:
            key = HeapKey(row["competitor"], row["class_id"], row["partition"])
            heaps.setdefault(key, []).append(Member(row["image_id"], row["distance"]))
        order = sorted(heaps, key=lambda k: (k.competitor, k.class_id, PARTITIONS.index(k.partition)))
        return [
            {
                "competitor": key.competitor,
                "class": key.class_id,
                "partition_by": key.partition,
                "members": [{"image": m.image_id, "distance": m.distance}
                            for m in sorted(heaps[key], key=lambda m: (-m.distance, m.image_id))],
            }
            for key in order
        ]

    def set_round_images(self, round: int, kind: str, image_ids: Iterable[str]) -> None:
        """Replace the round's set of `kind` (candidates, counterexamples, test, entropy, random)."""
        ri = t.round_images
        rows = [dict(round=round, kind=kind, image_id=i) for i in sorted(set(image_ids))]
        with self.engine.begin() as conn:
            conn.execute(ri.delete().where(ri.c.round == round, ri.c.kind == kind))
            if rows:
                conn.execute(ri.insert(), rows)

    def round_images(self, round: int, kind: str) -> list[str]:
        """The round's set of `kind`, sorted."""
        ri = t.round_images
        query = select(ri.c.image_id).where(ri.c.round == round, ri.c.kind == kind).order_by(ri.c.image_id)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # Evaluations

    def save_evaluation(self, evaluation: Evaluation) -> None:
        """Record a model version's mIoU on a split in a round, replacing an earlier measurement."""
        with self.engine.begin() as conn:
            self._upsert(conn, t.evaluations, dict(evaluation.__dict__))

    def evaluations(self, round: int) -> list[Evaluation]:
        """Every evaluation of a round, by split, model and version."""
        e = t.evaluations
        query = select(e).where(e.c.round == round).order_by(e.c.split, e.c.model, e.c.version)
        with self.engine.connect() as conn:
            return [Evaluation(**row) for row in conn.execute(query).mappings()]


def _chunks(items: list, size: int = 1000):
    """Consecutive slices of at most `size` items: SQLite caps the parameters of one statement (32766)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _heap(key: HeapKey):
    """The rows of one heap (of any round)."""
    h = t.heap_members
    return and_(h.c.competitor == key.competitor, h.c.class_id == key.class_id, h.c.partition == key.partition)


def _prediction_row(prediction: Prediction) -> dict:
    row = dict(prediction.__dict__)
    row["fractions"] = [float(f) for f in prediction.fractions]
    row["entropy"] = None if prediction.entropy is None else float(prediction.entropy)
    return row


def _round(row) -> Round:
    """A rounds row with its JSON settings typed."""
    return Round(**{**row, "settings": RoundSettings.from_dict(row["settings"])})
