"""How the notebooks show tables: times to the second in UTC, and cut listings' true totals."""

import pandas as pd

from connmodel.audit.display import shown_of, to_the_second


def test_times_are_shown_to_the_second_in_utc():
    frame = pd.DataFrame({
        "id": [1, 2],
        "checked_at": pd.to_datetime(["2026-11-25 09:25:58.524893+01:00", None], utc=True),
        "naive": pd.to_datetime(["2026-11-25 09:25:58.500", "2026-11-26 00:00:00.000"]),
    })
    shown = to_the_second(frame)
    assert shown["checked_at"].tolist() == ["2026-11-25 08:25:58 UTC", "–"]
    assert shown["naive"].tolist() == ["2026-11-25 09:25:58 UTC", "2026-11-26 00:00:00 UTC"]
    assert shown["id"].tolist() == [1, 2] and frame["checked_at"].dtype != object


def test_a_cut_listing_says_its_total():
    assert shown_of(200, 5153, "connections in Error") == "200 of 5,153 connections in Error"
    assert shown_of(12, 12, "connections in Error") == "12 connections in Error"
