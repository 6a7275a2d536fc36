"""The one DOM-building helper our JS components share: nodes made with createElement, text
appended as text nodes (never markup), so no component can write a value as HTML."""

DOM_HELPER = """
    function h(tag, attrs = {}, ...children) {
      const node = document.createElement(tag)
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
      node.append(...children)
      return node
    }
"""
