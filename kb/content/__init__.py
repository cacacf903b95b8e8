"""Knowledge content: articles, forum questions and answers, revisions, tags, attachments."""
