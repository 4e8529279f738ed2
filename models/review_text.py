"""Review texts in English and Chinese whose tone follows the rating, with realistic noise.

Chinese reviews have no spaces, so a sentiment model must work on character n-grams;
mixed reviews (a 4-star review with a complaint) keep the task from being trivial.
"""

from __future__ import annotations

import numpy as np

EN = {
    "pos": [
        "Love it",
        "Great quality",
        "Fits perfectly",
        "Exactly as described",
        "Super comfortable",
        "Fast delivery and well packed",
        "Would buy again",
        "Beautiful colour",
        "Excellent value for money",
        "My new favourite",
        "Highly recommend",
        "The fabric feels premium",
    ],
    "neu": [
        "It is okay",
        "Average quality",
        "Does the job",
        "Nothing special",
        "Arrived on time",
        "Size runs a little large",
        "Colour slightly different from the photo",
        "Fine for the price",
    ],
    "neg": [
        "Very disappointed",
        "Poor quality",
        "Fell apart after one wash",
        "Does not fit at all",
        "Waste of money",
        "Arrived damaged",
        "Cheap material",
        "Returned it",
        "Never buying again",
        "Customer service was useless",
        "Looks nothing like the picture",
        "Stitching came loose",
    ],
}
ZH = {
    "pos": [
        "质量很好",
        "非常满意",
        "物超所值",
        "穿着很舒服",
        "颜色很漂亮",
        "发货很快包装完好",
        "会回购的",
        "强烈推荐",
        "做工精细",
        "和描述的一样",
    ],
    "neu": ["一般般", "还可以吧", "中规中矩", "尺码偏大一点", "颜色和图片有点差别", "价格还算合理", "按时到货"],
    "neg": [
        "非常失望",
        "质量太差了",
        "洗一次就坏了",
        "完全不合身",
        "浪费钱",
        "收到就是坏的",
        "材料很廉价",
        "已经退货了",
        "再也不买了",
        "客服态度很差",
        "和图片完全不一样",
    ],
}
TONE_BY_RATING = {
    1: ("neg", "neg", "neg"),
    2: ("neg", "neg", "neu"),
    3: ("neu", "neu", "pos"),
    4: ("pos", "pos", "neu"),
    5: ("pos", "pos", "pos"),
}


def review_text(rng: np.random.Generator, rating: int, chinese: bool) -> str:
    """Two to four phrases mostly in the rating's tone, one in three possibly off-tone."""
    bank = ZH if chinese else EN
    tones = TONE_BY_RATING[rating]
    count = int(rng.integers(2, 5))
    phrases = []
    for _ in range(count):
        tone = tones[int(rng.integers(0, len(tones)))]
        if rng.random() < 0.12:  # real reviews mix praise and complaints
            tone = "neu"
        options = bank[tone]
        phrases.append(options[int(rng.integers(0, len(options)))])
    if chinese:
        return "，".join(phrases) + "。"
    return ". ".join(phrases) + "."
