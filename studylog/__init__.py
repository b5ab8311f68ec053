"""studylog: a static-site generator for a study log (never imports TensorFlow).

The build is a pipeline of plain values (studylog.build.build tells it step by step):

    config.load_config   content/site.toml -> SiteConfig
    content.parse_all    content/{posts,pages,experiments}/**/*.md -> [Document]
    collect.collect      -> Site (indexes: home pages, months, ISO weeks, tags, series,
                            prev/next) and the planned pages (Site.pages_out)
    setup callbacks      setup(site, hooks): register link schemes / fences, add pages or assets
    markdown             Document.body -> html, toc, summary (in forked workers for big sites)
    render + feeds       Jinja2 pages, Atom feed, sitemap
    write.SiteWriter     temp dir beside the output, then one atomic swap

Errors are collected as `path:line: message` (errors.BuildError) and raised together
(errors.ContentError); the previous output stays untouched. Every URL comes from urls.Urls.
"""
