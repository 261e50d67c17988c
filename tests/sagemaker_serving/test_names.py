"""Resource names and tags the serving module gives AWS resources."""

from __future__ import annotations

import re

from sm_magics.backends.sagemaker.resources import config_name_pattern, tag_list
from sm_magics.backends.sagemaker.resources import resource_name as real_resource_name

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_names_are_unique_per_call_valid_and_at_most_63_characters():
    long = "e" * 63
    names = {real_resource_name(f"{long}-AllTraffic", {"same": "content"}) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert len(name) <= 63 and SAGEMAKER_NAME.match(name)
        assert config_name_pattern(long).match(name)
    short = real_resource_name("ep", None)
    assert config_name_pattern("ep").match(short)
    assert not config_name_pattern("ep").match(real_resource_name("ep-other", None))
    assert not config_name_pattern("e").match(short)


def test_tags_keep_the_notebook_readable_and_valid():
    notebook = "/home/me/" + "x" * 300 + "/my notebook (v2).ipynb"
    tags = tag_list({"sm-magics:endpoint": "ep"}, {"team": "ml"}, notebook)
    assert tags[0] == {"Key": "sm-magics:endpoint", "Value": "ep"}
    value = tags[1]["Value"]
    assert len(value) == 256 and value.endswith("my notebook _v2_.ipynb")
    assert tags[2] == {"Key": "team", "Value": "ml"}
