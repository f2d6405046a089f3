"""The stages of a quarter as kernels: each a function over the firm arrays (``Firms``), the
parameters and levers it reads, and the random generator it draws from, with no model object. A
stage writes the firm arrays it names in its docstring in place (a copy of every array each quarter
would double the memory traffic) and returns what the model books (counts, land, new firms' rows).

  rates.py      the yearly growth, shock, innovation and exit rates (Q1, and entrants at entry)
  innovate.py   innovations raise productivity (every quarter)
  grow.py       desired growth, then land from the cities (every quarter)
  exit.py       exits (every quarter)
  enter.py      start-ups and spin-offs (every quarter)
  ladder.py     the ladder's yearly moves (Q1)
  ai_plus.py    AI+ adoption (Q1)
  aggregates.py ageing and the sums the records are made of

``simmodel.model.SimModel.step`` orders them; ``simmodel.model.funds`` holds the year's fund screens.
"""
