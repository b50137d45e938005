# the lesson's configuration, with the limit at one a minute: each principal has its own budget
lab.reload({**config, "middleware": [{"name": "timed"}, {"name": "rate_limited", "params": {"requests_per_minute": 1}}]})
challenge.check()
