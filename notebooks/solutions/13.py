# A reference solution for challenge 13: keep who may act, and bound the chain to the one hop the agent makes.
rule = {**lab.downstream.rule, "max_delegation_depth": 1}   # reload replaces the whole rule: start from it
print(rule)
lab.downstream.reload(rule)
challenge.check()
