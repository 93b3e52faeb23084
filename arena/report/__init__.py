"""``arena report RUN``: one self-contained static page (or Markdown file) for a tournament run or a
match folder. :mod:`.gather` reads the run into views, :mod:`.images` makes the inline images,
:mod:`.charts` draws the charts with matplotlib, :mod:`.render` fills the Jinja2 templates."""
