"""A small DOM of an HTML page (the standard library's parser), for tests that assert on elements."""

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        """Elements below (and including) this one with the tag, class and attribute values given;
        an attribute value of True means only that the attribute is present."""
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all((k.replace("_", "-") in n.attrs) if v is True else n.attrs.get(k.replace("_", "-")) == v
                        for k, v in attrs.items())]

    def by_id(self, ident):
        found = self.find_all(id=ident)
        assert len(found) == 1, f"{len(found)} elements with id {ident}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, attrs, self.node))

    def handle_endtag(self, tag):
        n = self.node
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.node = n.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(text):
    b = _Builder()
    b.feed(text)
    b.close()
    return b.root


def references(root):
    """Every src, href, action and poster value of the page, with its tag."""
    return [(n.tag, k, v) for n in root.iter() for k, v in n.attrs.items()
            if k in ("src", "href", "action", "poster", "srcset", "data") and v is not None]
