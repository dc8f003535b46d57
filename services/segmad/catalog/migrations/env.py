"""Alembic environment: the catalog's metadata, on the connection `migrate()` hands over or on a URL."""

from alembic import context

from segmad.catalog.engine import make_engine
from segmad.catalog.migrate import full_metadata

config = context.config
target_metadata = full_metadata()


def run_on(connection) -> None:
    # SQLite alters a table by copying it ("batch" mode); PostgreSQL alters in place.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def url() -> str:
    from segmad.settings import load

    return config.get_main_option("sqlalchemy.url") or load().database_url


if context.is_offline_mode():
    context.configure(url=url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run_on(config.attributes["connection"])
else:
    engine = make_engine(url())
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()
